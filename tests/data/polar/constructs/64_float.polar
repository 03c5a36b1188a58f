score_ok(x) if score(x, s) and s > 2.5;
