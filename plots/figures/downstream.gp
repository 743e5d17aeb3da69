# downstream: regenerate with  gnuplot downstream.gp  (run in this folder)
set datafile separator '\t'
set terminal pngcairo size 1200,500 font ',10'
set output 'downstream.png'
set style data histograms
set style histogram errorbars gap 1 lw 1
set style fill solid 0.8
set xtics rotate by -30 noenhanced
set yrange [0:1]
set ylabel 'accuracy'
set key outside right font ',8'
set title 'downstream: mean and 95% interval over seeds (multiple choice: chance 0.25; mc-step0: before training)'
plot 'downstream.dat' using 2:3:xtic(1) title 'dense tiny/1200', 'downstream.dat' using 4:5:xtic(1) title 'mhmoe-32h4-params tiny/1200', 'downstream.dat' using 6:7:xtic(1) title 'mhmoe-8h4-params tiny/1200', 'downstream.dat' using 8:9:xtic(1) title 'xmoe-32 tiny/1200', 'downstream.dat' using 10:11:xtic(1) title 'xmoe-8 tiny/1200', 'downstream.dat' using 12:13:xtic(1) title 'mhmoe-16h4-params tiny/1200', 'downstream.dat' using 14:15:xtic(1) title 'mhmoe-32h4-flops tiny/1200', 'downstream.dat' using 16:17:xtic(1) title 'mhmoe-64h4-params tiny/1200', 'downstream.dat' using 18:19:xtic(1) title 'mhmoe-8h1-params tiny/1200', 'downstream.dat' using 20:21:xtic(1) title 'mhmoe-8h2-params tiny/1200', 'downstream.dat' using 22:23:xtic(1) title 'mhmoe-8h4-flops tiny/1200', 'downstream.dat' using 24:25:xtic(1) title 'mhmoe-8h4-params-balsum tiny/1200', 'downstream.dat' using 26:27:xtic(1) title 'mhmoe-8h4-params-code tiny/1200', 'downstream.dat' using 28:29:xtic(1) title 'mhmoe-8h4-params-dropless tiny/1200', 'downstream.dat' using 30:31:xtic(1) title 'mhmoe-8h8-params tiny/1200', 'downstream.dat' using 32:33:xtic(1) title 'xmoe-16 tiny/1200', 'downstream.dat' using 34:35:xtic(1) title 'xmoe-64 tiny/1200', 'downstream.dat' using 36:37:xtic(1) title 'xmoe-8-balsum tiny/1200', 'downstream.dat' using 38:39:xtic(1) title 'xmoe-8-code tiny/1200', 'downstream.dat' using 40:41:xtic(1) title 'xmoe-8-dropless tiny/1200'
set terminal svg size 1200,500 font ',10'
set output 'downstream.svg'
set style data histograms
set style histogram errorbars gap 1 lw 1
set style fill solid 0.8
set xtics rotate by -30 noenhanced
set yrange [0:1]
set ylabel 'accuracy'
set key outside right font ',8'
set title 'downstream: mean and 95% interval over seeds (multiple choice: chance 0.25; mc-step0: before training)'
plot 'downstream.dat' using 2:3:xtic(1) title 'dense tiny/1200', 'downstream.dat' using 4:5:xtic(1) title 'mhmoe-32h4-params tiny/1200', 'downstream.dat' using 6:7:xtic(1) title 'mhmoe-8h4-params tiny/1200', 'downstream.dat' using 8:9:xtic(1) title 'xmoe-32 tiny/1200', 'downstream.dat' using 10:11:xtic(1) title 'xmoe-8 tiny/1200', 'downstream.dat' using 12:13:xtic(1) title 'mhmoe-16h4-params tiny/1200', 'downstream.dat' using 14:15:xtic(1) title 'mhmoe-32h4-flops tiny/1200', 'downstream.dat' using 16:17:xtic(1) title 'mhmoe-64h4-params tiny/1200', 'downstream.dat' using 18:19:xtic(1) title 'mhmoe-8h1-params tiny/1200', 'downstream.dat' using 20:21:xtic(1) title 'mhmoe-8h2-params tiny/1200', 'downstream.dat' using 22:23:xtic(1) title 'mhmoe-8h4-flops tiny/1200', 'downstream.dat' using 24:25:xtic(1) title 'mhmoe-8h4-params-balsum tiny/1200', 'downstream.dat' using 26:27:xtic(1) title 'mhmoe-8h4-params-code tiny/1200', 'downstream.dat' using 28:29:xtic(1) title 'mhmoe-8h4-params-dropless tiny/1200', 'downstream.dat' using 30:31:xtic(1) title 'mhmoe-8h8-params tiny/1200', 'downstream.dat' using 32:33:xtic(1) title 'xmoe-16 tiny/1200', 'downstream.dat' using 34:35:xtic(1) title 'xmoe-64 tiny/1200', 'downstream.dat' using 36:37:xtic(1) title 'xmoe-8-balsum tiny/1200', 'downstream.dat' using 38:39:xtic(1) title 'xmoe-8-code tiny/1200', 'downstream.dat' using 40:41:xtic(1) title 'xmoe-8-dropless tiny/1200'
