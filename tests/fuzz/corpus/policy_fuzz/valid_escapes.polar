quote("a \"quoted\" word", "back\\slash", "tab\tnew\nline");
