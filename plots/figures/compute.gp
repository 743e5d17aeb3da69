# compute: regenerate with  gnuplot compute.gp  (run in this folder)
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
set output 'compute.png'
set multiplot layout 1,2 title 'English: paired gaps against training compute (mean and 95% interval over seeds; below 0: the first is better)'
set logscale x 2
set format x '%.1s%c'
set xlabel 'training FLOPs (G: 1e9, T: 1e12)'
set ylabel 'gap in valid bits per byte'
set key below
set xzeroaxis
set title '8 experts'
plot 'compute.dat' index 0 using 1:2:3 with yerrorlines lw 2 pt 5 title 'mhmoe-8h4-flops - dense', 'compute.dat' index 1 using 1:2:3 with yerrorlines lw 2 pt 7 title 'mhmoe-8h4-flops - xmoe-8', 'compute.dat' index 2 using 1:2:3 with yerrorlines lw 2 pt 9 title 'mhmoe-8h4-params - dense', 'compute.dat' index 3 using 1:2:3 with yerrorlines lw 2 pt 11 title 'mhmoe-8h4-params - xmoe-8', 'compute.dat' index 4 using 1:2:3 with yerrorlines lw 2 pt 5 title 'xmoe-8 - dense'
set title '32 experts'
plot 'compute.dat' index 5 using 1:2:3 with yerrorlines lw 2 pt 7 title 'mhmoe-32h4-flops - dense', 'compute.dat' index 6 using 1:2:3 with yerrorlines lw 2 pt 9 title 'mhmoe-32h4-flops - xmoe-32', 'compute.dat' index 7 using 1:2:3 with yerrorlines lw 2 pt 11 title 'mhmoe-32h4-params - dense', 'compute.dat' index 8 using 1:2:3 with yerrorlines lw 2 pt 5 title 'mhmoe-32h4-params - xmoe-32', 'compute.dat' index 9 using 1:2:3 with yerrorlines lw 2 pt 7 title 'xmoe-32 - dense'
unset multiplot

set terminal svg size 1200,500 font ',10' noenhanced
set output 'compute.svg'
set multiplot layout 1,2 title 'English: paired gaps against training compute (mean and 95% interval over seeds; below 0: the first is better)'
set logscale x 2
set format x '%.1s%c'
set xlabel 'training FLOPs (G: 1e9, T: 1e12)'
set ylabel 'gap in valid bits per byte'
set key below
set xzeroaxis
set title '8 experts'
plot 'compute.dat' index 0 using 1:2:3 with yerrorlines lw 2 pt 5 title 'mhmoe-8h4-flops - dense', 'compute.dat' index 1 using 1:2:3 with yerrorlines lw 2 pt 7 title 'mhmoe-8h4-flops - xmoe-8', 'compute.dat' index 2 using 1:2:3 with yerrorlines lw 2 pt 9 title 'mhmoe-8h4-params - dense', 'compute.dat' index 3 using 1:2:3 with yerrorlines lw 2 pt 11 title 'mhmoe-8h4-params - xmoe-8', 'compute.dat' index 4 using 1:2:3 with yerrorlines lw 2 pt 5 title 'xmoe-8 - dense'
set title '32 experts'
plot 'compute.dat' index 5 using 1:2:3 with yerrorlines lw 2 pt 7 title 'mhmoe-32h4-flops - dense', 'compute.dat' index 6 using 1:2:3 with yerrorlines lw 2 pt 9 title 'mhmoe-32h4-flops - xmoe-32', 'compute.dat' index 7 using 1:2:3 with yerrorlines lw 2 pt 11 title 'mhmoe-32h4-params - dense', 'compute.dat' index 8 using 1:2:3 with yerrorlines lw 2 pt 5 title 'mhmoe-32h4-params - xmoe-32', 'compute.dat' index 9 using 1:2:3 with yerrorlines lw 2 pt 7 title 'xmoe-32 - dense'
unset multiplot

