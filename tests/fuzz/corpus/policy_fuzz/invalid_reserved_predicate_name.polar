_helper(x) if base(x);
