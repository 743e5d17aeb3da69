# activation: regenerate with  gnuplot activation.gp  (run in this folder)
set datafile separator '\t'
set terminal pngcairo size 1200,500 font ',10'
set output 'activation.png'
set multiplot layout 1,2
set xlabel 'expert, busiest first'
set ylabel 'MoE layer'
set cblabel 'load share'
set palette rgbformulae 30,31,32
set cbrange [0:0.070656]
set xrange [-0.5:31.5]
set title "xmoe-32 (3 runs): activation ratio 0.969, paper's definition 0.969"
set ytics ("1" 0)
set yrange [-0.5:0.5]
plot 'activation.dat' index 0 matrix using 1:2:(0.5):(0.5):3 with boxxyerror fill solid noborder lc palette notitle
set title "mhmoe-32h4-params (3 runs): activation ratio 1.000, paper's definition 1.000"
set ytics ("1" 0)
set yrange [-0.5:0.5]
plot 'activation.dat' index 1 matrix using 1:2:(0.5):(0.5):3 with boxxyerror fill solid noborder lc palette notitle

unset multiplot
set terminal svg size 1200,500 font ',10'
set output 'activation.svg'
set multiplot layout 1,2
set xlabel 'expert, busiest first'
set ylabel 'MoE layer'
set cblabel 'load share'
set palette rgbformulae 30,31,32
set cbrange [0:0.070656]
set xrange [-0.5:31.5]
set title "xmoe-32 (3 runs): activation ratio 0.969, paper's definition 0.969"
set ytics ("1" 0)
set yrange [-0.5:0.5]
plot 'activation.dat' index 0 matrix using 1:2:(0.5):(0.5):3 with boxxyerror fill solid noborder lc palette notitle
set title "mhmoe-32h4-params (3 runs): activation ratio 1.000, paper's definition 1.000"
set ytics ("1" 0)
set yrange [-0.5:0.5]
plot 'activation.dat' index 1 matrix using 1:2:(0.5):(0.5):3 with boxxyerror fill solid noborder lc palette notitle

unset multiplot
