package dev.lora4j.train;

import dev.lora4j.Lora4jException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The training output directory. lora4j writes only into a new or empty directory, or one it made
 * before (marked by a {@value #MARKER} file), and checks that it can write there before any work starts.
 */
public final class OutputDir {
    public static final String MARKER = ".lora4j-output";

    private OutputDir() {}

    public static void prepare(Path out) {
        if (Files.exists(out)) {
            if (!Files.isDirectory(out)) throw new Lora4jException(out + ": exists and is not a directory (--out must be a directory)");
            boolean ours = Files.exists(out.resolve(MARKER));
            boolean empty;
            try (var s = Files.list(out)) {
                empty = s.findAny().isEmpty();
            } catch (IOException e) {
                throw new Lora4jException(out + ": cannot list: " + e.getMessage());
            }
            if (!ours && !empty)
                throw new Lora4jException(out + ": exists, is not empty and is not a lora4j output directory; choose a new --out, or empty it");
        }
        try {
            Files.createDirectories(out);
            Path probe = Files.createTempFile(out, ".write-check", ".tmp");
            Files.delete(probe);
            if (!Files.exists(out.resolve(MARKER))) Files.writeString(out.resolve(MARKER), "lora4j training output\n");
        } catch (IOException e) {
            throw new Lora4jException(out + ": is not writable (" + e.getClass().getSimpleName() + ": " + e.getMessage() + ")");
        }
    }
}
