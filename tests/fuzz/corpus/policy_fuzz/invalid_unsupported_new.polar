make(x) if x = new User("alice");
