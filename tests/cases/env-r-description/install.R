install.packages('deSolve')
