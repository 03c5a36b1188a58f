# nothing but comments
   # and whitespace
