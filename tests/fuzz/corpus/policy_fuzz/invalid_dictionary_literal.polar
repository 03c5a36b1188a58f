conf(x) if x = {debug: true};
