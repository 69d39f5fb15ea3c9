import scipy.stats
from dateutil import parser
