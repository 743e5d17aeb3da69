# heads: regenerate with  gnuplot heads.gp  (run in this folder)
set datafile separator '\t'
set terminal pngcairo size 1200,500 font ',10'
set output 'heads.png'
set title 'English: valid perplexity against MH-MoE heads (mean, 95% interval over seeds)'
set xlabel 'MH-MoE heads'
set ylabel 'perplexity per token'
set logscale x 2
set key outside right
plot 'heads.dat' index 0 using 1:2:3 with yerrorlines title 'mhmoe-16-params tiny/1200', 'heads.dat' index 1 using 1:2:3 with yerrorlines title 'mhmoe-32-flops tiny/1200', 'heads.dat' index 2 using 1:2:3 with yerrorlines title 'mhmoe-32-params tiny/1200', 'heads.dat' index 3 using 1:2:3 with yerrorlines title 'mhmoe-64-params tiny/1200', 'heads.dat' index 4 using 1:2:3 with yerrorlines title 'mhmoe-8-flops tiny/1200', 'heads.dat' index 5 using 1:2:3 with yerrorlines title 'mhmoe-8-params tiny/1200', 'heads.dat' index 6 using 1:2:3 with yerrorlines title 'mhmoe-8-params-balsum tiny/1200', 'heads.dat' index 7 using 1:2:3 with yerrorlines title 'mhmoe-8-params-code tiny/1200', 'heads.dat' index 8 using 1:2:3 with yerrorlines title 'mhmoe-8-params-dropless tiny/1200'
set terminal svg size 1200,500 font ',10'
set output 'heads.svg'
set title 'English: valid perplexity against MH-MoE heads (mean, 95% interval over seeds)'
set xlabel 'MH-MoE heads'
set ylabel 'perplexity per token'
set logscale x 2
set key outside right
plot 'heads.dat' index 0 using 1:2:3 with yerrorlines title 'mhmoe-16-params tiny/1200', 'heads.dat' index 1 using 1:2:3 with yerrorlines title 'mhmoe-32-flops tiny/1200', 'heads.dat' index 2 using 1:2:3 with yerrorlines title 'mhmoe-32-params tiny/1200', 'heads.dat' index 3 using 1:2:3 with yerrorlines title 'mhmoe-64-params tiny/1200', 'heads.dat' index 4 using 1:2:3 with yerrorlines title 'mhmoe-8-flops tiny/1200', 'heads.dat' index 5 using 1:2:3 with yerrorlines title 'mhmoe-8-params tiny/1200', 'heads.dat' index 6 using 1:2:3 with yerrorlines title 'mhmoe-8-params-balsum tiny/1200', 'heads.dat' index 7 using 1:2:3 with yerrorlines title 'mhmoe-8-params-code tiny/1200', 'heads.dat' index 8 using 1:2:3 with yerrorlines title 'mhmoe-8-params-dropless tiny/1200'
