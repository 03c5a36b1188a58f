next(x, y) if y = x + 1;
