# cost: regenerate with  gnuplot cost.gp  (run in this folder)
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
set output 'cost.png'
set multiplot layout 1,3
set style data histograms
set style fill solid 0.8
set boxwidth 0.8
set xtics rotate by -30
unset key
set title 'parameters (M)'
plot 'cost.dat' using 2:xtic(1)
set title 'forward MFLOP per token'
plot 'cost.dat' using 3:xtic(1)
set title 'training tokens/s'
plot 'cost.dat' using 4:xtic(1)
unset multiplot
set terminal svg size 1200,500 font ',10' noenhanced
set output 'cost.svg'
set multiplot layout 1,3
set style data histograms
set style fill solid 0.8
set boxwidth 0.8
set xtics rotate by -30
unset key
set title 'parameters (M)'
plot 'cost.dat' using 2:xtic(1)
set title 'forward MFLOP per token'
plot 'cost.dat' using 3:xtic(1)
set title 'training tokens/s'
plot 'cost.dat' using 4:xtic(1)
unset multiplot
