package dev.lora4j;

import java.nio.file.Files;
import java.nio.file.Path;

/** Where the tests find their fixtures and the shared pretrained model. */
public final class TestPaths {
    private TestPaths() {}

    public static Path fixture(String name) {
        return Path.of("src", "test", "resources", "fixtures", name);
    }

    /** ../shared/models/stories260k beside the repository (override: -Dlora4j.stories260k=DIR). */
    public static Path stories260k() {
        Path p = Path.of(System.getProperty("lora4j.stories260k", "../shared/models/stories260k"));
        if (!Files.isRegularFile(p.resolve("model.safetensors")))
            throw new IllegalStateException("stories260k not found at " + p.toAbsolutePath() + " (the shared/ folder belongs beside the repository)");
        return p;
    }
}
