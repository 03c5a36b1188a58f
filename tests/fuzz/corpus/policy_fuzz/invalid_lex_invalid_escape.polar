has_name(x) if x = "bad \q escape";
