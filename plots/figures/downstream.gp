# downstream: regenerate with  gnuplot downstream.gp  (run in this folder)
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
set output 'downstream.png'
set multiplot layout 1,1
set style fill solid 0.8 border -1
set xtics rotate by -25
set yrange [0:*]
set key below
set bars 2
set title 'english mc: acc'
set xrange [-0.6:2.6]
plot 'downstream.dat' index 0 using 1:3:(0.7):($1+1):xtic(2) with boxes lc variable notitle, '' index 0 using 1:3:4 with yerrorbars lc rgb '#000000' pt 0 notitle, 0.25 with lines lt 7 dt 2 lw 1.5 title 'chance', 0.248019966080789 with lines lt 7 dt 3 lw 1.5 title 'before training'
unset multiplot
set terminal svg size 1200,500 font ',10' noenhanced
set output 'downstream.svg'
set multiplot layout 1,1
set style fill solid 0.8 border -1
set xtics rotate by -25
set yrange [0:*]
set key below
set bars 2
set title 'english mc: acc'
set xrange [-0.6:2.6]
plot 'downstream.dat' index 0 using 1:3:(0.7):($1+1):xtic(2) with boxes lc variable notitle, '' index 0 using 1:3:4 with yerrorbars lc rgb '#000000' pt 0 notitle, 0.25 with lines lt 7 dt 2 lw 1.5 title 'chance', 0.248019966080789 with lines lt 7 dt 3 lw 1.5 title 'before training'
unset multiplot
