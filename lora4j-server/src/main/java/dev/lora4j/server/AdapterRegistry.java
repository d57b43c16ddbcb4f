package dev.lora4j.server;

import dev.lora4j.Lora4jException;
import dev.lora4j.generate.TextGenerator;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The adapters a server knows, by name, and the ones it holds in memory: at most maxLoaded, the least
 * recently used evicted first and loaded again from its directory when asked for. Directories given at
 * run time must lie under one of the adapter roots (real paths compared, so no ".." or link escapes).
 * Requests in flight keep the adapter they started with, so eviction and unloading never disturb them.
 */
final class AdapterRegistry {
    private final TextGenerator generator;
    private final List<Path> roots;
    private final int maxLoaded;
    private final Map<String, Path> known = new LinkedHashMap<>();
    private final LinkedHashMap<String, Boolean> loaded = new LinkedHashMap<>(16, 0.75f, true); // access order: LRU first

    AdapterRegistry(TextGenerator generator, List<Path> roots, int maxLoaded) {
        this.generator = generator;
        this.maxLoaded = maxLoaded;
        List<Path> real = new ArrayList<>();
        for (Path r : roots) {
            try {
                real.add(r.toRealPath());
            } catch (IOException e) {
                throw new Lora4jException("--adapter-dir " + r + ": not a readable directory");
            }
        }
        this.roots = List.copyOf(real);
    }

    /** An adapter given at start (trusted: the operator named it). */
    synchronized void register(String name, Path dir) {
        checkName(name);
        generator.loadAdapter(name, dir); // load now: a bad adapter stops the server from starting, with its error
        known.put(name, dir);
        touch(name);
    }

    /** vLLM's /v1/load_lora_adapter: the path must lie under an adapter root. */
    synchronized void load(String name, String path) {
        checkName(name);
        if (known.containsKey(name)) throw new Lora4jException("an adapter named '" + name + "' is loaded already; unload it first");
        if (roots.isEmpty()) throw new Lora4jException("loading adapters at run time is off: start the server with --adapter-dir ROOT");
        Path dir;
        try {
            dir = Path.of(path).toRealPath();
        } catch (IOException | java.nio.file.InvalidPathException e) {
            throw new Lora4jException("lora_path '" + path + "': no such directory");
        }
        if (roots.stream().noneMatch(dir::startsWith))
            throw new Lora4jException("lora_path '" + path + "' is outside the adapter directories the server was started with");
        if (!Files.isDirectory(dir)) throw new Lora4jException("lora_path '" + path + "': not a directory");
        generator.loadAdapter(name, dir);
        known.put(name, dir);
        touch(name);
    }

    synchronized void unload(String name) {
        if (known.remove(name) == null) throw new Lora4jException("no adapter named '" + name + "'");
        if (loaded.remove(name) != null) generator.unloadAdapter(name);
    }

    synchronized boolean has(String name) {
        return known.containsKey(name);
    }

    synchronized List<String> names() {
        return List.copyOf(known.keySet());
    }

    synchronized int loadedCount() {
        return loaded.size();
    }

    /** Makes sure the adapter is in memory (loading it again if it was evicted) and marks it used. */
    synchronized void use(String name) {
        if (!known.containsKey(name)) throw new Lora4jException("no adapter named '" + name + "'");
        if (!loaded.containsKey(name)) generator.loadAdapter(name, known.get(name));
        touch(name);
    }

    private void touch(String name) {
        loaded.put(name, Boolean.TRUE);
        while (loaded.size() > maxLoaded) {
            String eldest = loaded.keySet().iterator().next();
            loaded.remove(eldest);
            generator.unloadAdapter(eldest);
        }
    }

    private static void checkName(String name) {
        if (name == null || !name.matches("[A-Za-z0-9._:/-]{1,128}"))
            throw new Lora4jException("adapter name '" + name + "' must be 1-128 letters, digits or ._:/-");
    }
}
