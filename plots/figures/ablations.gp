# ablations: regenerate with  gnuplot ablations.gp  (run in this folder)
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
set output 'ablations.png'
set multiplot layout 1,2 title 'Ablations: ablated minus full model (mean and 95% interval over paired seeds; above 0: the full model is better)'
set ylabel 'gap in valid bits per byte'
set xtics rotate by -25
set xzeroaxis lt 7 lw 1
set offsets 0.5, 0.5, graph 0.05, graph 0.05
set title 'Table 6: components (MH-MoE at FLOP parity; Dense w/ MLP)'
plot 'ablations.dat' index 0 using 1:3:4:xtic(2) with yerrorbars lt 1 pt 7 ps 1.2 lw 2 notitle
set title 'Table 7: layers in the head and merge layers (parameter parity)'
plot 'ablations.dat' index 1 using 1:3:4:xtic(2) with yerrorbars lt 2 pt 7 ps 1.2 lw 2 notitle
unset multiplot
set terminal svg size 1200,500 font ',10' noenhanced
set output 'ablations.svg'
set multiplot layout 1,2 title 'Ablations: ablated minus full model (mean and 95% interval over paired seeds; above 0: the full model is better)'
set ylabel 'gap in valid bits per byte'
set xtics rotate by -25
set xzeroaxis lt 7 lw 1
set offsets 0.5, 0.5, graph 0.05, graph 0.05
set title 'Table 6: components (MH-MoE at FLOP parity; Dense w/ MLP)'
plot 'ablations.dat' index 0 using 1:3:4:xtic(2) with yerrorbars lt 1 pt 7 ps 1.2 lw 2 notitle
set title 'Table 7: layers in the head and merge layers (parameter parity)'
plot 'ablations.dat' index 1 using 1:3:4:xtic(2) with yerrorbars lt 2 pt 7 ps 1.2 lw 2 notitle
unset multiplot
