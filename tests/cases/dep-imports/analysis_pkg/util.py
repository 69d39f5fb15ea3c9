thing = 1
def broken(:
    pass
