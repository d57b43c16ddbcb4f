package dev.lora4j;

import java.nio.file.Files;
import java.nio.file.Path;

/** Where the tests find their fixtures, the real pretrained model and the bundled one, whichever module's tests run. */
public final class TestPaths {
    /** The repository: the nearest directory above the working directory that holds the Maven wrapper. */
    private static final Path ROOT = findRoot();

    private TestPaths() {}

    private static Path findRoot() {
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent())
            if (Files.isRegularFile(p.resolve("mvnw")) && Files.isDirectory(p.resolve("lora4j-core"))) return p;
        throw new IllegalStateException("tests run inside the lora4j repository (no mvnw above " + Path.of("").toAbsolutePath() + ")");
    }

    /** A path of the repository, e.g. examples/stories260k-ids.jsonl. */
    public static Path repo(String path) {
        return ROOT.resolve(path);
    }

    public static Path fixture(String name) {
        return ROOT.resolve("lora4j-core/src/test/resources/fixtures").resolve(name);
    }

    /** The real pretrained stories260k (llama2.c's, in HF layout), kept in the repository beside its reference outputs. */
    public static Path stories260k() {
        Path p = fixture("stories260k").resolve("model");
        if (!Files.isRegularFile(p.resolve("model.safetensors")))
            throw new IllegalStateException("stories260k not found at " + p.toAbsolutePath());
        return p;
    }

    /** The model bundled with the command line (models/lora4j-stories: tokenizer, chat-free, 2.5 M parameters). */
    public static Path bundledModel() {
        return ROOT.resolve("models/lora4j-stories");
    }
}
