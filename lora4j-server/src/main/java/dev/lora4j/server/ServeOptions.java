package dev.lora4j.server;

import dev.lora4j.Lora4jException;

import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * How {@code lora4j serve} runs. Errors name the command-line option.
 *
 * @param model              the base model directory
 * @param chatTemplate       a Jinja file replacing the model's chat template, or null
 * @param quantize           the base quantized at load (int8 or nf4), or null for the weights as stored
 * @param adapters           adapters served from the start, by name
 * @param adapterRoots       directories under which /v1/load_lora_adapter may load adapters (none: loading refused)
 * @param servedModelName    the base's name in the API (default: the model directory's name)
 * @param host               the address to bind (default 127.0.0.1)
 * @param port               the port (0: a free one)
 * @param apiKey             required as "Authorization: Bearer KEY" on /v1 requests, or null
 * @param maxBatch           sequences decoded together at most (default 16)
 * @param maxQueue           requests waiting for a slot at most; more get 429 (default 256)
 * @param maxLoadedAdapters  adapters held in memory at most; the least recently used is evicted (default 32)
 * @param maxSequenceLength  prompt plus new tokens at most, bounded by the model's context (default 2048)
 * @param maxBodyBytes       the largest request body accepted (default 1 MiB)
 * @param requestTimeout     a request still running after this is cancelled (default 10 minutes)
 */
public record ServeOptions(Path model, Path chatTemplate, Map<String, Path> adapters, List<Path> adapterRoots, String servedModelName,
                           String host, int port, String apiKey, int maxBatch, int maxQueue, int maxLoadedAdapters,
                           int maxSequenceLength, int maxBodyBytes, Duration requestTimeout, dev.lora4j.quant.QuantType quantize) {
    public ServeOptions {
        if (model == null) throw new Lora4jException("--model must be given");
        adapters = Map.copyOf(adapters == null ? Map.of() : adapters);
        adapterRoots = List.copyOf(adapterRoots == null ? List.of() : adapterRoots);
        if (servedModelName == null || servedModelName.isBlank())
            servedModelName = model.toAbsolutePath().normalize().getFileName() == null ? "model" : model.toAbsolutePath().normalize().getFileName().toString();
        if (adapters.containsKey(servedModelName))
            throw new Lora4jException("--adapter " + servedModelName + ": the name is the base model's (--served-model-name)");
        if (port < 0 || port > 65535) throw new Lora4jException("--port must be in [0, 65535], got " + port);
        if (apiKey != null && apiKey.isBlank()) throw new Lora4jException("--api-key must not be empty");
        if (maxBatch < 1 || maxBatch > 4096) throw new Lora4jException("--max-batch must be in [1, 4096], got " + maxBatch);
        if (maxQueue < 0 || maxQueue > 1_000_000) throw new Lora4jException("--max-queue must be in [0, 1000000], got " + maxQueue);
        if (maxLoadedAdapters < 1 || maxLoadedAdapters > 100_000)
            throw new Lora4jException("--max-loaded-adapters must be in [1, 100000], got " + maxLoadedAdapters);
        if (maxSequenceLength < 2 || maxSequenceLength > 1 << 20) throw new Lora4jException("--max-seq-len must be in [2, 1048576], got " + maxSequenceLength);
        if (maxBodyBytes < 1024 || maxBodyBytes > 1 << 28) throw new Lora4jException("--max-body-bytes must be in [1024, 268435456], got " + maxBodyBytes);
        if (requestTimeout == null || requestTimeout.isNegative() || requestTimeout.isZero())
            throw new Lora4jException("--request-timeout must be a positive number of seconds");
    }

    public static Builder builder(Path model) {
        return new Builder(model);
    }

    /** ServeOptions by name, with the defaults listed on the record. */
    public static final class Builder {
        private final Path model;
        private Path chatTemplate;
        private dev.lora4j.quant.QuantType quantize;
        private final Map<String, Path> adapters = new LinkedHashMap<>();
        private List<Path> adapterRoots = List.of();
        private String servedModelName, host = "127.0.0.1", apiKey;
        private int port = 8080, maxBatch = 16, maxQueue = 256, maxLoadedAdapters = 32, maxSequenceLength = 2048, maxBodyBytes = 1 << 20;
        private Duration requestTimeout = Duration.ofMinutes(10);

        private Builder(Path model) {
            this.model = model;
        }

        public Builder quantize(dev.lora4j.quant.QuantType v) {
            quantize = v;
            return this;
        }

        public Builder chatTemplate(Path v) {
            chatTemplate = v;
            return this;
        }

        public Builder adapter(String name, Path dir) {
            if (adapters.put(name, dir) != null) throw new Lora4jException("--adapter " + name + " is given twice");
            return this;
        }

        public Builder adapterRoots(List<Path> v) {
            adapterRoots = v;
            return this;
        }

        public Builder servedModelName(String v) {
            servedModelName = v;
            return this;
        }

        public Builder host(String v) {
            host = v;
            return this;
        }

        public Builder port(int v) {
            port = v;
            return this;
        }

        public Builder apiKey(String v) {
            apiKey = v;
            return this;
        }

        public Builder maxBatch(int v) {
            maxBatch = v;
            return this;
        }

        public Builder maxQueue(int v) {
            maxQueue = v;
            return this;
        }

        public Builder maxLoadedAdapters(int v) {
            maxLoadedAdapters = v;
            return this;
        }

        public Builder maxSequenceLength(int v) {
            maxSequenceLength = v;
            return this;
        }

        public Builder maxBodyBytes(int v) {
            maxBodyBytes = v;
            return this;
        }

        public Builder requestTimeout(Duration v) {
            requestTimeout = v;
            return this;
        }

        public ServeOptions build() {
            return new ServeOptions(model, chatTemplate, adapters, adapterRoots, servedModelName, host, port, apiKey, maxBatch, maxQueue,
                    maxLoadedAdapters, maxSequenceLength, maxBodyBytes, requestTimeout, quantize);
        }
    }
}
