wide(a, b, c, d, e, f) if base(a, b, c, d, e, f);
