-- mtcnn.sys: clock(), sleep(s), cpu_count(), isatty(file), pid(), threads(), set_threads(n),
-- listdir(path), stat(path), mkdir(path) (creates parents).
return require("mtcnn.core").sys
