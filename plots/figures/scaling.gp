# scaling: regenerate with  gnuplot scaling.gp  (run in this folder)
set datafile separator '\t'
set terminal pngcairo size 1200,500 font ',10'
set output 'scaling.png'
set title 'English: valid perplexity against experts (mean, 95% interval over seeds)'
set xlabel 'experts'
set ylabel 'perplexity per token'
set logscale x 2
set key outside right
plot 'scaling.dat' index 0 using 1:2:3 with yerrorlines title 'mhmoeh1-params tiny/1200', 'scaling.dat' index 1 using 1:2:3 with yerrorlines title 'mhmoeh2-params tiny/1200', 'scaling.dat' index 2 using 1:2:3 with yerrorlines title 'mhmoeh4-flops tiny/1200', 'scaling.dat' index 3 using 1:2:3 with yerrorlines title 'mhmoeh4-params tiny/1200', 'scaling.dat' index 4 using 1:2:3 with yerrorlines title 'mhmoeh4-params-balsum tiny/1200', 'scaling.dat' index 5 using 1:2:3 with yerrorlines title 'mhmoeh4-params-code tiny/1200', 'scaling.dat' index 6 using 1:2:3 with yerrorlines title 'mhmoeh4-params-dropless tiny/1200', 'scaling.dat' index 7 using 1:2:3 with yerrorlines title 'mhmoeh8-params tiny/1200', 'scaling.dat' index 8 using 1:2:3 with yerrorlines title 'xmoe tiny/1200', 'scaling.dat' index 9 using 1:2:3 with yerrorlines title 'xmoe-balsum tiny/1200', 'scaling.dat' index 10 using 1:2:3 with yerrorlines title 'xmoe-code tiny/1200', 'scaling.dat' index 11 using 1:2:3 with yerrorlines title 'xmoe-dropless tiny/1200'
set terminal svg size 1200,500 font ',10'
set output 'scaling.svg'
set title 'English: valid perplexity against experts (mean, 95% interval over seeds)'
set xlabel 'experts'
set ylabel 'perplexity per token'
set logscale x 2
set key outside right
plot 'scaling.dat' index 0 using 1:2:3 with yerrorlines title 'mhmoeh1-params tiny/1200', 'scaling.dat' index 1 using 1:2:3 with yerrorlines title 'mhmoeh2-params tiny/1200', 'scaling.dat' index 2 using 1:2:3 with yerrorlines title 'mhmoeh4-flops tiny/1200', 'scaling.dat' index 3 using 1:2:3 with yerrorlines title 'mhmoeh4-params tiny/1200', 'scaling.dat' index 4 using 1:2:3 with yerrorlines title 'mhmoeh4-params-balsum tiny/1200', 'scaling.dat' index 5 using 1:2:3 with yerrorlines title 'mhmoeh4-params-code tiny/1200', 'scaling.dat' index 6 using 1:2:3 with yerrorlines title 'mhmoeh4-params-dropless tiny/1200', 'scaling.dat' index 7 using 1:2:3 with yerrorlines title 'mhmoeh8-params tiny/1200', 'scaling.dat' index 8 using 1:2:3 with yerrorlines title 'xmoe tiny/1200', 'scaling.dat' index 9 using 1:2:3 with yerrorlines title 'xmoe-balsum tiny/1200', 'scaling.dat' index 10 using 1:2:3 with yerrorlines title 'xmoe-code tiny/1200', 'scaling.dat' index 11 using 1:2:3 with yerrorlines title 'xmoe-dropless tiny/1200'
