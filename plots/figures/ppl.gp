# ppl: regenerate with  gnuplot ppl.gp  (run in this folder)
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
set output 'ppl.png'
set multiplot layout 1,1
set xlabel 'step'
set ylabel 'perplexity per token'
set key below
set title 'english: valid perplexity (mean, 95% band)'
plot 'ppl.dat' index 0 using 1:($2-$3):($2+$3) with filledcurves lc 1 fs transparent solid 0.15 notitle, 'ppl.dat' index 0 using 1:2 with lines lt 1 lw 2 title 'dense tiny/1200', 'ppl.dat' index 1 using 1:($2-$3):($2+$3) with filledcurves lc 2 fs transparent solid 0.15 notitle, 'ppl.dat' index 1 using 1:2 with lines lt 2 lw 2 title 'mhmoe-8h4-params tiny/1200', 'ppl.dat' index 2 using 1:($2-$3):($2+$3) with filledcurves lc 3 fs transparent solid 0.15 notitle, 'ppl.dat' index 2 using 1:2 with lines lt 3 lw 2 title 'xmoe-8 tiny/1200'
unset multiplot
set terminal svg size 1200,500 font ',10' noenhanced
set output 'ppl.svg'
set multiplot layout 1,1
set xlabel 'step'
set ylabel 'perplexity per token'
set key below
set title 'english: valid perplexity (mean, 95% band)'
plot 'ppl.dat' index 0 using 1:($2-$3):($2+$3) with filledcurves lc 1 fs transparent solid 0.15 notitle, 'ppl.dat' index 0 using 1:2 with lines lt 1 lw 2 title 'dense tiny/1200', 'ppl.dat' index 1 using 1:($2-$3):($2+$3) with filledcurves lc 2 fs transparent solid 0.15 notitle, 'ppl.dat' index 1 using 1:2 with lines lt 2 lw 2 title 'mhmoe-8h4-params tiny/1200', 'ppl.dat' index 2 using 1:($2-$3):($2+$3) with filledcurves lc 3 fs transparent solid 0.15 notitle, 'ppl.dat' index 2 using 1:2 with lines lt 3 lw 2 title 'xmoe-8 tiny/1200'
unset multiplot
