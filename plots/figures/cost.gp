# cost: regenerate with  gnuplot cost.gp  (run in this folder)
set datafile separator '\t'
set terminal pngcairo size 1200,500 font ',10'
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
set terminal svg size 1200,500 font ',10'
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
