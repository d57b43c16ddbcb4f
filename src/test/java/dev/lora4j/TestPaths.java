package dev.lora4j;

import java.nio.file.Files;
import java.nio.file.Path;

/** Where the tests find their fixtures and the real pretrained model. */
public final class TestPaths {
    private TestPaths() {}

    public static Path fixture(String name) {
        return Path.of("src", "test", "resources", "fixtures", name);
    }

    /** The real pretrained stories260k (llama2.c's, in HF layout), kept in the repository beside its reference outputs. */
    public static Path stories260k() {
        Path p = fixture("stories260k").resolve("model");
        if (!Files.isRegularFile(p.resolve("model.safetensors")))
            throw new IllegalStateException("stories260k not found at " + p.toAbsolutePath());
        return p;
    }
}
