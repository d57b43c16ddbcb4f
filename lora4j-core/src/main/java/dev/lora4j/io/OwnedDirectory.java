package dev.lora4j.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lora4j.Lora4jException;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * An output directory that lora4j owns: it was new or empty when lora4j took it, it is locked while a
 * lora4j process writes into it, and a manifest ({@value #MANIFEST}) lists, once the work is complete,
 * every file written there. Only a directory whose manifest is complete and lists every file in it is
 * ever replaced, and only the listed files are deleted: lora4j never deletes what it did not provably write.
 */
public final class OwnedDirectory implements AutoCloseable {
    public static final String MANIFEST = ".lora4j-manifest.json", LOCK = ".lora4j-lock";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path dir;
    private final String kind;
    private final FileChannel lockChannel;
    private final FileLock lock;

    private OwnedDirectory(Path dir, String kind, FileChannel lockChannel, FileLock lock) {
        this.dir = dir;
        this.kind = kind;
        this.lockChannel = lockChannel;
        this.lock = lock;
    }

    public Path dir() {
        return dir;
    }

    /**
     * Takes dir for a new piece of work of this kind ("demo", "train", ...): dir must be absent, empty, or
     * (when replace is set) a complete earlier output of the same kind, whose listed files are then deleted.
     * Anything else is refused before anything is touched.
     */
    public static OwnedDirectory claim(Path dir, String kind, boolean replace, String option) {
        if (Files.exists(dir, LinkOption.NOFOLLOW_LINKS) && !Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS))
            throw new Lora4jException(dir + ": exists and is not a directory (" + option + " must be a directory)");
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new Lora4jException(dir + ": cannot create (" + e.getClass().getSimpleName() + ": " + e.getMessage() + ")");
        }
        Set<Path> replaced;
        try {
            replaced = replaceable(dir, kind, replace, option); // checked before the lock file is made: a refused directory is left as it was
        } catch (IOException e) {
            throw new Lora4jException(dir + ": cannot read (" + e.getClass().getSimpleName() + ": " + e.getMessage() + ")");
        }
        OwnedDirectory owned = lock(dir, kind);
        try {
            if (!replaceable(dir, kind, replace, option).equals(replaced)) // another process wrote here meanwhile
                throw new Lora4jException(dir + ": changed while lora4j was taking it; nothing was deleted");
            for (Path p : replaced) Files.deleteIfExists(dir.resolve(p));
            deleteEmptyDirectories(dir);
            owned.writeManifest(false, List.of());
            return owned;
        } catch (IOException e) {
            owned.close();
            throw new Lora4jException(dir + ": cannot write (" + e.getClass().getSimpleName() + ": " + e.getMessage() + ")");
        } catch (RuntimeException e) {
            owned.close();
            throw e;
        }
    }

    /** The files to delete before dir can be taken (none when it is empty); refuses when it cannot be taken. */
    private static Set<Path> replaceable(Path dir, String kind, boolean replace, String option) throws IOException {
        List<Path> present = filesIn(dir);
        if (present.isEmpty()) return Set.of();
        if (!replace) throw new Lora4jException(dir + ": is not empty; choose a new or empty " + option);
        Set<Path> listed = listedFiles(dir, kind, option);
        for (Path p : present)
            if (!listed.contains(p))
                throw new Lora4jException(dir + ": holds " + p + ", which lora4j did not write; nothing was deleted."
                        + " Move it away or choose another " + option);
        return new LinkedHashSet<>(present);
    }

    /** Locks dir against other lora4j processes (and other claims in this one) until close. */
    public static OwnedDirectory lock(Path dir, String kind) {
        FileChannel ch = null;
        try {
            ch = FileChannel.open(dir.resolve(LOCK), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            FileLock l;
            try {
                l = ch.tryLock();
            } catch (OverlappingFileLockException e) {
                l = null;
            }
            if (l == null) throw new Lora4jException(dir + ": another lora4j run is writing here; wait for it or choose another directory");
            return new OwnedDirectory(dir, kind, ch, l);
        } catch (IOException e) {
            closeQuietly(ch);
            throw new Lora4jException(dir + ": is not writable (" + e.getClass().getSimpleName() + ": " + e.getMessage() + ")");
        } catch (RuntimeException e) {
            closeQuietly(ch);
            throw e;
        }
    }

    /** Marks the work complete: the manifest lists every file now in the directory. */
    public void complete() throws IOException {
        writeManifest(true, filesIn(dir));
    }

    private void writeManifest(boolean complete, List<Path> files) throws IOException {
        ObjectNode root = JSON.createObjectNode();
        root.put("lora4j", kind);
        root.put("complete", complete);
        ArrayNode list = root.putArray("files");
        for (Path p : files) list.add(p.toString().replace('\\', '/'));
        AtomicFiles.writeString(dir.resolve(MANIFEST), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(root) + "\n");
    }

    private static Set<Path> listedFiles(Path dir, String kind, String option) throws IOException {
        Path m = dir.resolve(MANIFEST);
        if (!Files.isRegularFile(m, LinkOption.NOFOLLOW_LINKS))
            throw new Lora4jException(dir + ": is not empty and is not a lora4j " + kind + " output; nothing was deleted. Choose a new or empty " + option);
        JsonNode root;
        try {
            root = JSON.readTree(m.toFile());
        } catch (IOException e) {
            throw new Lora4jException(m + ": unreadable manifest (" + e.getMessage() + "); nothing was deleted. Choose a new or empty " + option);
        }
        if (!kind.equals(root.path("lora4j").asText()))
            throw new Lora4jException(dir + ": is a lora4j " + root.path("lora4j").asText("?") + " output, not a " + kind + " output; nothing was deleted");
        if (!root.path("complete").asBoolean())
            throw new Lora4jException(dir + ": holds an unfinished lora4j " + kind + " (interrupted?), whose files lora4j cannot tell from others;"
                    + " nothing was deleted. Delete it yourself or choose another " + option);
        Set<Path> listed = new LinkedHashSet<>();
        for (JsonNode f : root.path("files")) {
            Path p = Path.of(f.asText()).normalize();
            if (p.isAbsolute() || p.startsWith("..") || p.toString().isEmpty())
                throw new Lora4jException(m + ": lists '" + f.asText() + "', outside the directory; nothing was deleted");
            listed.add(p);
        }
        return listed;
    }

    /** Every file below dir (links as files, never followed), relative, but the manifest and the lock. */
    private static List<Path> filesIn(Path dir) throws IOException {
        List<Path> files = new ArrayList<>();
        try (var s = Files.walk(dir)) {
            for (Path p : s.sorted().toList()) {
                if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) continue;
                Path rel = dir.relativize(p);
                if (rel.toString().equals(MANIFEST) || rel.toString().equals(LOCK)) continue;
                files.add(rel);
            }
        }
        return files;
    }

    private static void deleteEmptyDirectories(Path dir) throws IOException {
        try (var s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                if (p.equals(dir) || !Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) continue;
                try (var inside = Files.list(p)) {
                    if (inside.findAny().isEmpty()) Files.delete(p);
                }
            }
        }
    }

    private static void closeQuietly(FileChannel ch) {
        if (ch == null) return;
        try {
            ch.close();
        } catch (IOException ignored) {
            // nothing was locked
        }
    }

    /** Releases the lock (the lock file stays: removing it would race with a process that opened it). */
    @Override
    public void close() {
        try {
            if (lock.isValid()) lock.release();
        } catch (IOException ignored) {
            // closing the channel releases it too
        }
        closeQuietly(lockChannel);
    }
}
