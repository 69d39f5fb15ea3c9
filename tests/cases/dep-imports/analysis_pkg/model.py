import numpy as np
import xarray
from .util import thing
