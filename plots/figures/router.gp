# router: regenerate with  gnuplot router.gp  (run in this folder)
set datafile separator '\t'
set linetype 1 lc rgb '#0072B2' dt 1 pt 7
set linetype 2 lc rgb '#D55E00' dt 2 pt 5
set linetype 3 lc rgb '#009E73' dt 3 pt 9
set linetype 4 lc rgb '#CC79A7' dt 4 pt 11
set linetype 5 lc rgb '#E69F00' dt 5 pt 13
set linetype 6 lc rgb '#56B4E9' dt 1 pt 6
set linetype 7 lc rgb '#000000' dt 2 pt 4
set linetype 8 lc rgb '#F0E442' dt 3 pt 8
set linetype cycle 8
set key outside right top
set terminal pngcairo size 1200,500 font ',10' noenhanced
set output 'router.png'
set multiplot layout 2,3
set xlabel 'step'
set key below font ',8'
set palette defined (0 '#440154', 0.25 '#3b528b', 0.5 '#21908d', 0.75 '#5dc963', 1 '#fde725')
unset colorbox
set title 'router entropy (1 = uniform)'
plot 'router.dat' index 0 using 1:2 with lines lw 2 title 'mhmoe-8h4-params l1', 'router.dat' index 1 using 1:2 with lines lw 2 title 'xmoe-8 l1'
set title 'router temperature tau'
plot 'router.dat' index 2 using 1:2 with lines lw 2 title 'mhmoe-8h4-params l1', 'router.dat' index 3 using 1:2 with lines lw 2 title 'xmoe-8 l1'
set title 'spread of the router cosines'
plot 'router.dat' index 4 using 1:2 with lines lw 2 title 'mhmoe-8h4-params l1', 'router.dat' index 5 using 1:2 with lines lw 2 title 'xmoe-8 l1'
set title 'RMS of the MoE layer output'
plot 'router.dat' index 6 using 1:2 with lines lw 2 title 'mhmoe-8h4-params l1', 'router.dat' index 7 using 1:2 with lines lw 2 title 'xmoe-8 l1'
set title 'xmoe-8: load per expert rank'
plot 'router.dat' index 8 using 1:2 with lines lc palette frac 0 notitle, 'router.dat' index 9 using 1:2 with lines lc palette frac 0.142857 notitle, 'router.dat' index 10 using 1:2 with lines lc palette frac 0.285714 notitle, 'router.dat' index 11 using 1:2 with lines lc palette frac 0.428571 notitle, 'router.dat' index 12 using 1:2 with lines lc palette frac 0.571429 notitle, 'router.dat' index 13 using 1:2 with lines lc palette frac 0.714286 notitle, 'router.dat' index 14 using 1:2 with lines lc palette frac 0.857143 notitle, 'router.dat' index 15 using 1:2 with lines lc palette frac 1 notitle
set title 'mhmoe-8h4-params: load per expert rank'
plot 'router.dat' index 16 using 1:2 with lines lc palette frac 0 notitle, 'router.dat' index 17 using 1:2 with lines lc palette frac 0.142857 notitle, 'router.dat' index 18 using 1:2 with lines lc palette frac 0.285714 notitle, 'router.dat' index 19 using 1:2 with lines lc palette frac 0.428571 notitle, 'router.dat' index 20 using 1:2 with lines lc palette frac 0.571429 notitle, 'router.dat' index 21 using 1:2 with lines lc palette frac 0.714286 notitle, 'router.dat' index 22 using 1:2 with lines lc palette frac 0.857143 notitle, 'router.dat' index 23 using 1:2 with lines lc palette frac 1 notitle

unset multiplot
set terminal svg size 1200,500 font ',10' noenhanced
set output 'router.svg'
set multiplot layout 2,3
set xlabel 'step'
set key below font ',8'
set palette defined (0 '#440154', 0.25 '#3b528b', 0.5 '#21908d', 0.75 '#5dc963', 1 '#fde725')
unset colorbox
set title 'router entropy (1 = uniform)'
plot 'router.dat' index 0 using 1:2 with lines lw 2 title 'mhmoe-8h4-params l1', 'router.dat' index 1 using 1:2 with lines lw 2 title 'xmoe-8 l1'
set title 'router temperature tau'
plot 'router.dat' index 2 using 1:2 with lines lw 2 title 'mhmoe-8h4-params l1', 'router.dat' index 3 using 1:2 with lines lw 2 title 'xmoe-8 l1'
set title 'spread of the router cosines'
plot 'router.dat' index 4 using 1:2 with lines lw 2 title 'mhmoe-8h4-params l1', 'router.dat' index 5 using 1:2 with lines lw 2 title 'xmoe-8 l1'
set title 'RMS of the MoE layer output'
plot 'router.dat' index 6 using 1:2 with lines lw 2 title 'mhmoe-8h4-params l1', 'router.dat' index 7 using 1:2 with lines lw 2 title 'xmoe-8 l1'
set title 'xmoe-8: load per expert rank'
plot 'router.dat' index 8 using 1:2 with lines lc palette frac 0 notitle, 'router.dat' index 9 using 1:2 with lines lc palette frac 0.142857 notitle, 'router.dat' index 10 using 1:2 with lines lc palette frac 0.285714 notitle, 'router.dat' index 11 using 1:2 with lines lc palette frac 0.428571 notitle, 'router.dat' index 12 using 1:2 with lines lc palette frac 0.571429 notitle, 'router.dat' index 13 using 1:2 with lines lc palette frac 0.714286 notitle, 'router.dat' index 14 using 1:2 with lines lc palette frac 0.857143 notitle, 'router.dat' index 15 using 1:2 with lines lc palette frac 1 notitle
set title 'mhmoe-8h4-params: load per expert rank'
plot 'router.dat' index 16 using 1:2 with lines lc palette frac 0 notitle, 'router.dat' index 17 using 1:2 with lines lc palette frac 0.142857 notitle, 'router.dat' index 18 using 1:2 with lines lc palette frac 0.285714 notitle, 'router.dat' index 19 using 1:2 with lines lc palette frac 0.428571 notitle, 'router.dat' index 20 using 1:2 with lines lc palette frac 0.571429 notitle, 'router.dat' index 21 using 1:2 with lines lc palette frac 0.714286 notitle, 'router.dat' index 22 using 1:2 with lines lc palette frac 0.857143 notitle, 'router.dat' index 23 using 1:2 with lines lc palette frac 1 notitle

unset multiplot
