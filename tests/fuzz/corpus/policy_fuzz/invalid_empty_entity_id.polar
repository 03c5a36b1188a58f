bad(x) if x = User{""};
