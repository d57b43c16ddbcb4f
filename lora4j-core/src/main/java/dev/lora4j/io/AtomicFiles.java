package dev.lora4j.io;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/** Temp-file-then-rename writing: readers see the old file or the complete new one, never a torn one. */
public final class AtomicFiles {
    private AtomicFiles() {}

    @FunctionalInterface
    public interface Body {
        void writeTo(OutputStream out) throws IOException;
    }

    public static void write(Path target, Body body) throws IOException {
        try {
            writeOrThrow(target, body);
        } catch (IOException e) {
            throw failed(target, e);
        }
    }

    /**
     * An I/O failure named by what was being written, with the system's reason ("No space left on device",
     * "File too large", "Permission denied"); the first failure's wording is kept when they nest.
     */
    public static IOException failed(Path target, IOException e) {
        String reason = e instanceof java.nio.file.FileSystemException f && f.getReason() != null ? f.getReason()
                : e instanceof java.nio.file.FileSystemException f ? f.getClass().getSimpleName().replace("Exception", "") + " " + f.getFile()
                : e.getMessage();
        if (reason != null && reason.startsWith(target.toString())) return e; // named already
        boolean full = reason != null && (reason.contains("No space left") || reason.contains("File too large") || reason.contains("Disk quota"));
        return new IOException(target + ": cannot write: " + reason + (full ? " (the disk is full, or a file-size limit is reached;"
                + " nothing partial was left)" : ""), e);
    }

    private static void writeOrThrow(Path target, Body body) throws IOException {
        Path dir = target.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path tmp = Files.createTempFile(dir, "." + target.getFileName() + ".", ".tmp");
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING);
                 OutputStream out = new BufferedOutputStream(java.nio.channels.Channels.newOutputStream(ch), 1 << 20)) {
                body.writeTo(out);
                out.flush();
                ch.force(true);
            }
            try { // createTempFile makes the file private; a written file should read like any other
                Files.setPosixFilePermissions(tmp, java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
            } catch (UnsupportedOperationException notPosix) {
                // keep the default permissions
            }
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /** Fills a directory in one go: body writes into a temporary sibling, which is then renamed to target. */
    @FunctionalInterface
    public interface DirectoryBody {
        void writeInto(Path dir) throws IOException;
    }

    /** Marks a directory being filled by {@link #writeDirectory}; held locked while it is written. */
    public static final String PARTIAL = ".lora4j-partial";

    /**
     * Creates target (which must not exist, or be an empty directory) atomically: all of it or nothing.
     * The temporary sibling holds a {@value #PARTIAL} marker, locked while it is written: one left by a
     * killed process (marker present, lock free) is removed by the next write to the same target.
     */
    public static void writeDirectory(Path target, DirectoryBody body) throws IOException {
        Path parent = target.toAbsolutePath().getParent();
        Files.createDirectories(parent);
        removeAbandoned(parent, "." + target.getFileName() + ".");
        Path tmp = Files.createTempDirectory(parent, "." + target.getFileName() + ".",
                java.nio.file.attribute.PosixFilePermissions.asFileAttribute(java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x")));
        try (FileChannel marker = FileChannel.open(tmp.resolve(PARTIAL), StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
             java.nio.channels.FileLock held = marker.lock()) {
            body.writeInto(tmp);
            held.release();
            Files.delete(tmp.resolve(PARTIAL));
            if (Files.isDirectory(target)) Files.delete(target); // empty, checked by the caller
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw failed(target, e);
        } finally {
            deleteTree(tmp);
        }
    }

    /** Temporary directories named prefix* that a killed writer left: they hold an unlocked partial marker. */
    private static void removeAbandoned(Path parent, String prefix) throws IOException {
        try (var s = Files.list(parent)) {
            for (Path p : s.filter(p -> p.getFileName().toString().startsWith(prefix)).toList()) {
                Path marker = p.resolve(PARTIAL);
                if (!Files.isDirectory(p, java.nio.file.LinkOption.NOFOLLOW_LINKS) || !Files.isRegularFile(marker, java.nio.file.LinkOption.NOFOLLOW_LINKS))
                    continue;
                boolean abandoned;
                try (FileChannel ch = FileChannel.open(marker, StandardOpenOption.WRITE); java.nio.channels.FileLock l = ch.tryLock()) {
                    abandoned = l != null;
                } catch (java.nio.channels.OverlappingFileLockException e) {
                    abandoned = false; // this process is writing it
                }
                if (abandoned) deleteTree(p);
            }
        }
    }

    /** Deletes a file or a directory tree, if it exists. */
    public static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p)) return;
        try (var s = Files.walk(p)) {
            for (Path q : s.sorted(java.util.Comparator.reverseOrder()).toList()) Files.delete(q);
        }
    }

    public static void writeString(Path target, String text) throws IOException {
        write(target, out -> out.write(text.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
    }
}
