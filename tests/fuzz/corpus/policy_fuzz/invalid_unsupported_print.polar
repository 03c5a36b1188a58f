debug(x) if print(x);
