package dev.lora4j.generate;

import com.fasterxml.jackson.databind.JsonNode;
import dev.lora4j.Lora4jException;
import dev.lora4j.io.ModelFiles;
import dev.lora4j.lora.AdapterSet;
import dev.lora4j.lora.LoraModel;
import dev.lora4j.model.ModelConfig;
import dev.lora4j.model.Transformer;
import dev.lora4j.tokenizer.ChatTemplate;
import dev.lora4j.tokenizer.Tokenizer;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * A language model to generate text with: one frozen base, its tokenizer and chat template, and any
 * number of LoRA adapters loaded by name beside it (unmerged, sharing the base). Text in, text out:
 * <pre>{@code
 * try (TextGenerator g = TextGenerator.builder(Path.of("models/SmolLM2-135M-Instruct")).adapter("mine", Path.of("runs/mine")).build()) {
 *     Completion c = g.generate(TextGenerator.Request.text("Once upon a time").adapter("mine"));
 *     g.chat(List.of(new ChatTemplate.Message("user", "Hi!")), GenerationConfig.builder().maxNewTokens(40).build());
 * }
 * }</pre>
 *
 * <p>Thread-safe: any number of threads may call it at once, each request with its own adapter; what a
 * call computes does not depend on what else runs (a call's state, its KV cache and adapter routing,
 * belongs to the call). A batch of requests ({@link #generate(List)}) runs as one ragged batch: prompts
 * of any lengths, each request with its own adapter, settings and listener. Adapters can be loaded and
 * unloaded while serving; a call uses the adapters present when it started.
 */
public final class TextGenerator implements AutoCloseable {
    private final Path modelDir;
    private final Transformer base;
    private final Tokenizer tokenizer;     // null: the model has no tokenizer.json (ids only)
    private final ChatTemplate template;   // null: no chat template
    private final int[] modelEosIds;
    private final Map<String, LoraModel> adapters = new LinkedHashMap<>(); // guarded by this
    private volatile AdapterSet.Mixed serving;

    /** What to generate from: text (encoded with the tokenizer's special tokens, e.g. BOS), token ids, or a conversation. */
    public sealed interface Prompt {
        record Text(String text) implements Prompt {}

        record Ids(int[] ids) implements Prompt {}

        record Chat(List<ChatTemplate.Message> messages) implements Prompt {}
    }

    /**
     * One request: its prompt, the adapter to run it with (null: the base alone), its settings and a
     * listener for its text as it comes.
     */
    public record Request(Prompt prompt, String adapter, GenerationConfig config, TextListener listener) {
        public Request {
            if (prompt == null) throw new Lora4jException("a request needs a prompt");
            if (config == null) config = GenerationConfig.DEFAULT;
            if (listener == null) listener = TextListener.NONE;
        }

        public static Request text(String text) {
            return new Request(new Prompt.Text(text), null, null, null);
        }

        public static Request ids(int... ids) {
            return new Request(new Prompt.Ids(ids.clone()), null, null, null);
        }

        public static Request chat(List<ChatTemplate.Message> messages) {
            return new Request(new Prompt.Chat(List.copyOf(messages)), null, null, null);
        }

        public Request adapter(String name) {
            return new Request(prompt, name, config, listener);
        }

        public Request config(GenerationConfig c) {
            return new Request(prompt, adapter, c, listener);
        }

        public Request listener(TextListener l) {
            return new Request(prompt, adapter, config, l);
        }
    }

    private TextGenerator(Path modelDir, Transformer base, Path chatTemplate) {
        this.modelDir = modelDir;
        this.base = base;
        this.tokenizer = Tokenizer.ofModel(modelDir);
        this.template = ChatTemplate.ofModel(modelDir, chatTemplate);
        this.modelEosIds = eosIds(modelDir, base);
        this.serving = new AdapterSet(base).mixed();
    }

    public static TextGenerator load(Path modelDir) {
        return builder(modelDir).build();
    }

    public static Builder builder(Path modelDir) {
        return new Builder(modelDir);
    }

    public static final class Builder {
        private final Path modelDir;
        private Path chatTemplate;
        private dev.lora4j.quant.QuantType quantize;
        private java.util.function.Consumer<dev.lora4j.model.Quantization.Report> onQuantized = r -> {};
        private final Map<String, Path> adapters = new LinkedHashMap<>();
        private Path wholeAdapter;

        private Builder(Path modelDir) {
            this.modelDir = modelDir;
        }

        /** A Jinja chat template file to use instead of tokenizer_config.json's. */
        public Builder chatTemplate(Path file) {
            chatTemplate = file;
            return this;
        }

        /** Quantize the frozen base at load (int8 or nf4; null, the default, keeps the weights as stored). */
        public Builder quantize(dev.lora4j.quant.QuantType type) {
            quantize = type;
            return this;
        }

        /** Where the quantization's report goes (nowhere by default). */
        public Builder onQuantized(java.util.function.Consumer<dev.lora4j.model.Quantization.Report> report) {
            onQuantized = report;
            return this;
        }

        /** A PEFT adapter directory to load under a name. */
        public Builder adapter(String name, Path dir) {
            if (adapters.put(name, dir) != null) throw new Lora4jException("an adapter named '" + name + "' is given twice");
            return this;
        }

        /**
         * An adapter that changes the whole model (IA³, bottleneck, prompt or prefix tuning, or LoRA that trains the embedding or the
         * LM head), which every request runs with, unmerged ({@link dev.lora4j.lora.AdapterKind#apply}).
         */
        public Builder wholeModelAdapter(Path dir) {
            wholeAdapter = dir;
            return this;
        }

        public TextGenerator build() {
            Transformer base = dev.lora4j.model.Quantization.load(modelDir, quantize, onQuantized);
            try {
                if (wholeAdapter != null) base = dev.lora4j.lora.AdapterKind.apply(wholeAdapter, base); // shares (and closes) the loaded weights
                TextGenerator g = new TextGenerator(modelDir, base, chatTemplate);
                adapters.forEach(g::loadAdapter);
                return g;
            } catch (RuntimeException e) {
                base.close();
                throw e;
            }
        }
    }

    public Transformer base() {
        return base;
    }

    public ModelConfig config() {
        return base.config();
    }

    /** The model's tokenizer, or null when its directory has no tokenizer.json. */
    public Tokenizer tokenizer() {
        return tokenizer;
    }

    /** The chat template, or null when the model has none and none was given. */
    public ChatTemplate chatTemplate() {
        return template;
    }

    /** The model's end-of-sequence ids (config.json, generation_config.json). */
    public List<Integer> eosIds() {
        return java.util.Arrays.stream(modelEosIds).boxed().toList();
    }

    /** Loads a PEFT adapter under a name, while serving; calls already running keep the adapters they started with. */
    public synchronized void loadAdapter(String name, Path dir) {
        if (adapters.containsKey(name)) throw new Lora4jException("an adapter named '" + name + "' is already loaded");
        addAdapter(name, dev.lora4j.lora.PeftAdapter.load(dir, base));
    }

    /** Adds an adapter made over this generator's base (e.g. just trained) under a name. */
    public synchronized void addAdapter(String name, LoraModel adapter) {
        if (name == null || name.isBlank()) throw new Lora4jException("an adapter needs a name");
        if (adapters.containsKey(name)) throw new Lora4jException("an adapter named '" + name + "' is already loaded");
        if (adapter.base() != base) throw new Lora4jException("adapter '" + name + "' was made over another base model");
        adapters.put(name, adapter);
        rebuild();
    }

    public synchronized void unloadAdapter(String name) {
        if (adapters.remove(name) == null) throw new Lora4jException("no adapter named '" + name + "' (loaded: " + adapters.keySet() + ")");
        rebuild();
    }

    public synchronized List<String> adapters() {
        return List.copyOf(adapters.keySet());
    }

    private void rebuild() {
        AdapterSet set = new AdapterSet(base);
        adapters.forEach(set::add);
        serving = set.mixed();
    }

    /** Continues a text prompt on the base model. */
    public Completion generate(String prompt, GenerationConfig config) {
        return generate(Request.text(prompt).config(config));
    }

    /** Answers a conversation (rendered through the chat template, ending where the assistant's turn begins) on the base model. */
    public Completion chat(List<ChatTemplate.Message> messages, GenerationConfig config) {
        return generate(Request.chat(messages).config(config));
    }

    public Completion generate(Request request) {
        return generate(List.of(request)).getFirst();
    }

    /** A request made ready to run: its sequence (prompt ids, sampler, end conditions) and its text stream (null without a tokenizer). */
    record Prepared(Generator.Sequence sequence, TextStream stream) {
        String finish() {
            return stream == null ? "" : stream.finish();
        }
    }

    /** Encodes the prompt and builds the sampler, end conditions and text stream of one request. */
    Prepared prepare(Request r) {
        int[] prompt = encode(r.prompt());
        GenerationConfig c = r.config();
        int[] eos = c.eosIds() == null ? modelEosIds : c.eosIds().stream().mapToInt(Integer::intValue).toArray();
        List<String> stops = new ArrayList<>(c.stopStrings());
        if (r.prompt() instanceof Prompt.Chat && !template.eosToken().isEmpty() && !stops.contains(template.eosToken()))
            stops.add(template.eosToken()); // the end of a turn, in case it is not one token of eos_token_id
        TextStream stream = tokenizer == null ? null : new TextStream(tokenizer, eos, stops, r.listener());
        if (stream == null && !stops.isEmpty()) throw new Lora4jException(modelDir + ": stop strings need the model's tokenizer.json, and it has none");
        Sampler sampler = new Sampler(c.temperature(), c.topK(), c.topP(), c.repetitionPenalty(), new SplittableRandom(c.seed()));
        return new Prepared(new Generator.Sequence(prompt, c.maxNewTokens(), sampler, eos,
                stream == null ? Generator.StopCondition.NEVER : stream, stream == null ? id -> {} : stream,
                tokenizer == null ? 0 : tokenizer.vocabSize()), stream);
    }

    /** The adapter loaded under name (null for null: the base alone); an unknown name is refused. */
    public synchronized LoraModel adapter(String name) {
        if (name == null) return null;
        LoraModel m = adapters.get(name);
        if (m == null) throw new Lora4jException("no adapter named '" + name + "' (loaded: " + adapters.keySet() + ")");
        return m;
    }

    /** Runs the requests as one ragged batch: each with its own prompt length, adapter, settings and listener. */
    public List<Completion> generate(List<Request> requests) {
        AdapterSet.Mixed model = serving; // this call's adapters, whatever is loaded or unloaded meanwhile
        List<Generator.Sequence> batch = new ArrayList<>();
        List<TextStream> streams = new ArrayList<>();
        String[] route = new String[requests.size()];
        for (int i = 0; i < requests.size(); i++) {
            Request r = requests.get(i);
            route[i] = r.adapter();
            Prepared p = prepare(r);
            streams.add(p.stream());
            batch.add(p.sequence());
        }
        List<Generator.Output> out = Generator.generate(model.model(), batch, Generator.Scope.routed(model, route));
        List<Completion> result = new ArrayList<>();
        for (int i = 0; i < out.size(); i++) {
            TextStream s = streams.get(i);
            result.add(new Completion(s == null ? "" : s.finish(), out.get(i).ids(), out.get(i).finishReason(), batch.get(i).prompt().length));
        }
        return result;
    }

    private int[] encode(Prompt p) {
        return switch (p) {
            case Prompt.Ids ids -> ids.ids();
            case Prompt.Text t -> {
                if (tokenizer == null) throw new Lora4jException(modelDir + ": no tokenizer.json, so text cannot be encoded; give token ids");
                int[] ids = tokenizer.encodeWithSpecialTokens(t.text());
                if (ids.length == 0) throw new Lora4jException("the prompt encodes to no tokens");
                yield ids;
            }
            case Prompt.Chat c -> {
                if (tokenizer == null) throw new Lora4jException(modelDir + ": no tokenizer.json, so a conversation cannot be encoded");
                if (template == null)
                    throw new Lora4jException(modelDir + ": tokenizer_config.json has no chat_template; give one with a chat template file");
                yield tokenizer.encode(template.render(c.messages(), true));
            }
        };
    }

    /**
     * eos_token_id of the model's configuration (config.json, or a GGUF file's metadata) and of
     * generation_config.json: one id, or a list (Llama 3 instruct).
     */
    private static int[] eosIds(Path modelDir, Transformer base) {
        Set<Integer> ids = new LinkedHashSet<>();
        List<JsonNode> configs = new java.util.ArrayList<>();
        if (base.source() != null) configs.add(base.source().config());
        Path generation = modelDir.resolve("generation_config.json");
        if (Files.isRegularFile(generation)) configs.add(ModelFiles.readJson(generation));
        for (JsonNode c : configs) {
            JsonNode eos = c.path("eos_token_id");
            if (eos.isInt()) ids.add(eos.asInt());
            else if (eos.isArray()) for (JsonNode e : eos) if (e.isInt()) ids.add(e.asInt());
        }
        return ids.stream().mapToInt(Integer::intValue).toArray();
    }

    @Override
    public void close() {
        base.close();
    }
}
