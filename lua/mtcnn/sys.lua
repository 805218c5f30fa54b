-- mtcnn.sys: clock(), sleep(s), cpu_count(), isatty(file), pid(), threads(), set_threads(n).
return require("mtcnn.core").sys
