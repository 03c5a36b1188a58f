all_ok(xs) if forall(x in xs, ok(x));
