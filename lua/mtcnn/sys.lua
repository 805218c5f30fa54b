-- mtcnn.sys: clock(), sleep(s), cpu_count(), isatty(file), pid().
return require("mtcnn.core").sys
