# writes output/simulations/run-*.csv (hours on a cluster)
