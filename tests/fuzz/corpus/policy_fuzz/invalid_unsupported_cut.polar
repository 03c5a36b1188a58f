first(x) if candidate(x) and cut;
