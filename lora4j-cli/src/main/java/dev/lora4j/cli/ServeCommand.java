package dev.lora4j.cli;

import dev.lora4j.Lora4jException;
import dev.lora4j.server.OpenAiServer;
import dev.lora4j.server.ServeOptions;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

@Command(name = "serve", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"An OpenAI-compatible server for one base model and many LoRA adapters, continuously batched.",
                "GET /v1/models, POST /v1/completions and /v1/chat/completions (stream: true for server-sent events),",
                "POST /v1/load_lora_adapter and /v1/unload_lora_adapter (vLLM's), GET /health and /metrics (Prometheus).",
                "A request's \"model\" is the base's name or an adapter's. Prints 'lora4j serve: listening on URL' once ready;",
                "SIGTERM or Ctrl-C stops accepting, answers requests in flight with a 503 and exits 0."})
final class ServeCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, paramLabel = "DIR", description = "Hugging Face checkpoint directory (the base).")
    Path model;
    @Option(names = "--adapter", paramLabel = "NAME=DIR", description = "A PEFT adapter served as model NAME (repeatable).")
    List<String> adapters = new ArrayList<>();
    @Option(names = "--adapter-dir", paramLabel = "ROOT", description = "Directories under which /v1/load_lora_adapter may load adapters (repeatable; none: loading at run time is off).")
    List<Path> adapterDirs = new ArrayList<>();
    @Option(names = "--served-model-name", paramLabel = "NAME", description = "The base's name in the API (default: the model directory's name).")
    String servedModelName;
    @Option(names = "--chat-template", paramLabel = "FILE", description = "Jinja chat template instead of tokenizer_config.json's.")
    Path chatTemplate;
    @Option(names = "--host", defaultValue = "127.0.0.1", description = "Address to listen on (default: ${DEFAULT-VALUE}).")
    String host;
    @Option(names = "--port", defaultValue = "8080", description = "Port; 0 takes a free one (default: ${DEFAULT-VALUE}).")
    int port;
    @Option(names = "--api-key", paramLabel = "KEY", description = "Require 'Authorization: Bearer KEY' on /v1 requests (also from LORA4J_API_KEY).")
    String apiKey;
    @Option(names = "--max-batch", defaultValue = "16", description = "Sequences decoded together at most (default: ${DEFAULT-VALUE}).")
    int maxBatch;
    @Option(names = "--max-queue", defaultValue = "256", description = "Requests waiting for a slot at most; more get 429 (default: ${DEFAULT-VALUE}).")
    int maxQueue;
    @Option(names = "--max-loaded-adapters", defaultValue = "32", description = "Adapters in memory at most; the least recently used is evicted and reloaded on demand (default: ${DEFAULT-VALUE}).")
    int maxLoadedAdapters;
    @Option(names = "--max-seq-len", defaultValue = "2048", description = "Prompt plus new tokens at most, bounded by the model's context (default: ${DEFAULT-VALUE}).")
    int maxSeqLen;
    @Option(names = "--max-body-bytes", defaultValue = "1048576", description = "Largest request body (default: ${DEFAULT-VALUE}).")
    int maxBodyBytes;
    @Option(names = "--request-timeout", defaultValue = "600", paramLabel = "SECONDS", description = "Cancel a request still running after this (default: ${DEFAULT-VALUE}).")
    long requestTimeout;
    @picocli.CommandLine.Mixin
    ThreadsOption threads = new ThreadsOption();
    @picocli.CommandLine.Mixin
    QuantizeOption quantize = new QuantizeOption();

    @Override
    public Integer call() throws InterruptedException {
        threads.apply();
        ServeOptions.Builder b = ServeOptions.builder(model).chatTemplate(chatTemplate).quantize(quantize.type()).adapterRoots(adapterDirs).servedModelName(servedModelName)
                .host(host).port(port).apiKey(apiKey != null ? apiKey : System.getenv("LORA4J_API_KEY")).maxBatch(maxBatch).maxQueue(maxQueue)
                .maxLoadedAdapters(maxLoadedAdapters).maxSequenceLength(maxSeqLen).maxBodyBytes(maxBodyBytes);
        if (requestTimeout < 1 || requestTimeout > 86_400) throw new Lora4jException("--request-timeout must be in [1, 86400] seconds, got " + requestTimeout);
        b.requestTimeout(Duration.ofSeconds(requestTimeout));
        for (String a : adapters) {
            int eq = a.indexOf('=');
            if (eq <= 0 || eq == a.length() - 1) throw new Lora4jException("--adapter must be NAME=DIR, got '" + a + "'");
            b.adapter(a.substring(0, eq), Path.of(a.substring(eq + 1)));
        }
        OpenAiServer server = OpenAiServer.start(b.build());
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            // SIGTERM or Ctrl-C: stop accepting, end the requests in flight, then exit 0 (a clean stop, not a crash)
            server.close();
            stopped.countDown();
            System.out.println("lora4j serve: stopped");
            System.out.flush();
            Runtime.getRuntime().halt(0);
        }, "lora4j-serve-stop"));
        System.out.println("lora4j serve: listening on " + server.url());
        System.out.flush();
        stopped.await();
        return 0;
    }
}
