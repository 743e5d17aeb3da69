# activation: regenerate with  gnuplot activation.gp  (run in this folder)
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
set output 'activation.png'
set multiplot layout 1,3
set xlabel 'expert, busiest first'
set ylabel 'MoE layer'
set cblabel 'load share'
set palette defined (0 '#440154', 0.25 '#3b528b', 0.5 '#21908d', 0.75 '#5dc963', 1 '#fde725')
set cbrange [0:0.156182]
set xrange [-0.5:7.5]
set title "xmoe-8 (46 runs): load share"
set ytics ('1' 0)
set yrange [-0.5:0.5]
plot 'activation.dat' index 0 matrix using 1:2:(0.5):(0.5):3 with boxxyerror fill solid noborder lc palette notitle
set title "mhmoe-8h4-params (47 runs): load share"
set ytics ('1' 0)
set yrange [-0.5:0.5]
plot 'activation.dat' index 1 matrix using 1:2:(0.5):(0.5):3 with boxxyerror fill solid noborder lc palette notitle

unset colorbox
set title 'activation ratio (Fig. 1a; 95% interval)'
set xrange [-0.6:1.6]
set yrange [0:1.05]
unset ytics
set ytics
set xlabel ''
set ylabel 'share of (layer, expert) cells active'
set style fill solid 0.8
set key below
plot 'activation.dat' index 2 using ($1-0.18):3:(0.34) with boxes lt 1 title 'harness', '' index 2 using ($1-0.18):3:4 with yerrorbars lt 7 pt 0 notitle, '' index 2 using ($1+0.18):5:(0.34):xtic(2) with boxes lt 2 title "paper's", '' index 2 using ($1+0.18):5:6 with yerrorbars lt 7 pt 0 notitle
unset multiplot
set terminal svg size 1200,500 font ',10' noenhanced
set output 'activation.svg'
set multiplot layout 1,3
set xlabel 'expert, busiest first'
set ylabel 'MoE layer'
set cblabel 'load share'
set palette defined (0 '#440154', 0.25 '#3b528b', 0.5 '#21908d', 0.75 '#5dc963', 1 '#fde725')
set cbrange [0:0.156182]
set xrange [-0.5:7.5]
set title "xmoe-8 (46 runs): load share"
set ytics ('1' 0)
set yrange [-0.5:0.5]
plot 'activation.dat' index 0 matrix using 1:2:(0.5):(0.5):3 with boxxyerror fill solid noborder lc palette notitle
set title "mhmoe-8h4-params (47 runs): load share"
set ytics ('1' 0)
set yrange [-0.5:0.5]
plot 'activation.dat' index 1 matrix using 1:2:(0.5):(0.5):3 with boxxyerror fill solid noborder lc palette notitle

unset colorbox
set title 'activation ratio (Fig. 1a; 95% interval)'
set xrange [-0.6:1.6]
set yrange [0:1.05]
unset ytics
set ytics
set xlabel ''
set ylabel 'share of (layer, expert) cells active'
set style fill solid 0.8
set key below
plot 'activation.dat' index 2 using ($1-0.18):3:(0.34) with boxes lt 1 title 'harness', '' index 2 using ($1-0.18):3:4 with yerrorbars lt 7 pt 0 notitle, '' index 2 using ($1+0.18):5:(0.34):xtic(2) with boxes lt 2 title "paper's", '' index 2 using ($1+0.18):5:6 with yerrorbars lt 7 pt 0 notitle
unset multiplot
