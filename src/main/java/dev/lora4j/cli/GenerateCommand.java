package dev.lora4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lora4j.Lora4jException;
import dev.lora4j.generate.Generator;
import dev.lora4j.generate.Sampler;
import dev.lora4j.lora.AdapterSet;
import dev.lora4j.model.Transformer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;

@Command(name = "generate", mixinStandardHelpOptions = true,
        description = {"Generate tokens with a KV cache.",
                "Streams the first prompt's tokens (as text when the model has a tokenizer.json) as they come. Stops at EOS",
                "(config.json's eos_token_id) or --max-new-tokens. With --json the last line is {\"ids\": [...], \"text\": ...}",
                "(a list per prompt when several; text when the model has a tokenizer).",
                "--chat: an interactive session on stdin, the history rendered through the model's chat template each turn",
                "(a line is one user turn; /reset forgets the history; /exit or end of input quits)."})
final class GenerateCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, paramLabel = "DIR", description = "Hugging Face checkpoint directory.")
    Path model;

    @Option(names = "--adapter", paramLabel = "[NAME=]DIR[:WEIGHT]", description = {
            "PEFT adapters applied unmerged (repeatable; several apply as their weighted sum, or, with --route,",
            "each prompt of a mixed batch runs with its own)."})
    List<String> adapters = new ArrayList<>();

    @Option(names = "--prompt-ids", paramLabel = "ID,ID,...", description = "A prompt as token ids (repeatable; prompts of equal length run as one batch).")
    List<String> promptIds = new ArrayList<>();

    @Option(names = "--route", split = ",", paramLabel = "NAME,...", description = "Adapter name per prompt (- for none): a mixed-adapter batch.")
    List<String> route;

    @Option(names = "--prompt", paramLabel = "TEXT", description = "A text prompt, encoded with the model's tokenizer.json (repeatable, as --prompt-ids).")
    List<String> prompt = new ArrayList<>();

    @Option(names = "--chat", description = "Interactive chat on stdin through the chat template (tokenizer_config.json's, or --chat-template).")
    boolean chat;

    @Option(names = "--chat-template", paramLabel = "FILE", description = "Jinja chat template to use instead of tokenizer_config.json's.")
    Path chatTemplate;

    @Option(names = "--system", paramLabel = "TEXT", description = "--chat: a system turn to start every conversation with.")
    String system;

    @Option(names = "--max-new-tokens", defaultValue = "64", description = "At most this many new tokens (default: ${DEFAULT-VALUE}).")
    int maxNewTokens;

    @Option(names = "--temperature", defaultValue = "1.0", description = "Sampling temperature; 0 is greedy (default: ${DEFAULT-VALUE}).")
    double temperature;

    @Option(names = "--top-k", defaultValue = "0", description = "Keep the k most likely tokens; 0 keeps all (default: ${DEFAULT-VALUE}).")
    int topK;

    @Option(names = "--top-p", defaultValue = "1.0", description = "Nucleus sampling mass (default: ${DEFAULT-VALUE}).")
    double topP;

    @Option(names = "--repetition-penalty", defaultValue = "1.0", description = "HF's repetition penalty (default: ${DEFAULT-VALUE}).")
    double repetitionPenalty;

    @Option(names = "--stop", paramLabel = "STR", description = "Stop a sequence once its text contains STR (repeatable; needs a tokenizer).")
    List<String> stop = new ArrayList<>();

    @Option(names = "--seed", defaultValue = "42", description = "Sampling seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @picocli.CommandLine.Mixin
    ThreadsOption threads = new ThreadsOption();

    @Option(names = "--json", description = "End stdout with one JSON object: ids (the new token ids).")
    boolean json;

    @Override
    public Integer call() throws Exception {
        threads.apply();
        if ((prompt.isEmpty() ? 0 : 1) + (promptIds.isEmpty() ? 0 : 1) + (chat ? 1 : 0) != 1)
            throw new Lora4jException("give one of --prompt TEXT, --prompt-ids or --chat");
        dev.lora4j.tokenizer.Tokenizer tokenizer = java.nio.file.Files.exists(model.resolve("tokenizer.json"))
                ? dev.lora4j.tokenizer.Tokenizer.load(model) : null;
        if ((!prompt.isEmpty() || chat) && tokenizer == null)
            throw new Lora4jException(model + ": no tokenizer.json, so text cannot be encoded; give --prompt-ids");
        dev.lora4j.tokenizer.ChatTemplate template = chat ? dev.lora4j.tokenizer.ChatTemplate.ofModel(model, chatTemplate) : null;
        if (chat && template == null)
            throw new Lora4jException(model + ": tokenizer_config.json has no chat_template; give one with --chat-template FILE");
        for (String p : prompt)
            promptIds.add(Arrays.stream(tokenizer.encodeWithSpecialTokens(p)).mapToObj(Integer::toString).reduce((a, b) -> a + "," + b)
                    .orElseThrow(() -> new Lora4jException("--prompt '" + p + "' encodes to no tokens")));        if (maxNewTokens < 1) throw new Lora4jException("--max-new-tokens must be positive, got " + maxNewTokens);
        if (temperature < 0 || topP <= 0 || topP > 1 || repetitionPenalty <= 0)
            throw new Lora4jException("need --temperature >= 0, 0 < --top-p <= 1 and --repetition-penalty > 0");
        if (chat && (route != null || json)) throw new Lora4jException("--chat takes neither --route nor --json");
        int[][] prompts = new int[promptIds.size()][];
        for (int i = 0; i < prompts.length; i++) {
            try {
                prompts[i] = Arrays.stream(promptIds.get(i).split(",")).map(String::strip).mapToInt(Integer::parseInt).toArray();
            } catch (NumberFormatException e) {
                throw new Lora4jException("--prompt-ids '" + promptIds.get(i) + "' must be comma-separated integers");
            }
        }
        try (Transformer base = Transformer.load(model)) {
            int vocab = base.config().vocabSize();
            for (int[] pr : prompts)
                for (int id : pr)
                    if (id < 0 || id >= vocab) throw new Lora4jException("--prompt-ids: token id " + id + " is outside the vocabulary [0, " + vocab + ")");
            Transformer run;
            Generator.BeforeStep before = n -> {};
            if (route != null) {
                if (route.size() != prompts.length) throw new Lora4jException("--route names " + route.size() + " adapters for " + prompts.length + " prompts");
                AdapterSet.Mixed mixed = AdapterSpecs.named(base, adapters).mixed();
                String[] names = route.stream().map(r -> r.equals("-") ? null : r).toArray(String[]::new);
                mixed.route(names, 1); // checks the names now
                run = mixed.model();
                before = n -> mixed.route(names, n);
            } else {
                run = AdapterSpecs.weightedSum(base, adapters);
            }
            if (!run.copyWeightsForDecoding()) // Generator would try again, silently
                System.err.println("lora4j: note: a heap copy of the weights (for faster decoding) would take more than half"
                        + " the free heap, so decoding reads them from the checkpoint file (slower); more heap: LORA4J_JAVA_OPTS=-Xmx...");
            int eos = base.source().config().path("eos_token_id").isInt() ? base.source().config().get("eos_token_id").asInt() : -1;
            Sampler sampler = new Sampler(temperature, topK, topP, repetitionPenalty, new SplittableRandom(seed));
            if (!stop.isEmpty() && tokenizer == null) throw new Lora4jException("--stop needs the model's tokenizer.json, and the model directory has none");
            Generator.StopCondition stopAt = (seq, newIds, n) -> {
                if (stop.isEmpty()) return false;
                String text = tokenizer.decode(Arrays.copyOf(newIds, n));
                return stop.stream().anyMatch(text::contains);
            };
            if (chat) {
                chat(run, tokenizer, template, sampler, eos);
                return 0;
            }
            int[][] ids = new int[prompts.length][];
            if (route != null) { // a mixed-adapter batch is one batch
                ids = Generator.generate(run, prompts, maxNewTokens, sampler, eos, before, new Stream(tokenizer, eos), stopAt);
            } else { // prompts of equal length run as one batch; the first prompt's tokens stream
                Map<Integer, List<Integer>> byLength = new LinkedHashMap<>();
                for (int i = 0; i < prompts.length; i++) byLength.computeIfAbsent(prompts[i].length, k -> new ArrayList<>()).add(i);
                for (List<Integer> group : byLength.values()) {
                    int[][] batch = group.stream().map(i -> prompts[i]).toArray(int[][]::new);
                    int[][] out = Generator.generate(run, batch, maxNewTokens, sampler, eos, before,
                            group.get(0) == 0 ? new Stream(tokenizer, eos) : id -> {}, stopAt);
                    for (int k = 0; k < group.size(); k++) ids[group.get(k)] = out[k];
                }
            }
            System.out.println();
            if (json) {
                Map<String, Object> o = new LinkedHashMap<>();
                if (ids.length == 1) o.put("ids", Arrays.stream(ids[0]).boxed().toList());
                else o.put("ids", Arrays.stream(ids).map(a -> Arrays.stream(a).boxed().toList()).toList());
                if (tokenizer != null) o.put("text", ids.length == 1 ? tokenizer.decode(ids[0]) : Arrays.stream(ids).map(tokenizer::decode).toList());
                System.out.println(new ObjectMapper().writeValueAsString(o));
            }
        }
        return 0;
    }

    /**
     * The interactive session: each stdin line is a user turn; the whole history is rendered through the
     * template (with the generation prompt) and the reply streamed until EOS, the template's eos_token
     * text, a --stop string or --max-new-tokens.
     */
    private void chat(Transformer run, dev.lora4j.tokenizer.Tokenizer tokenizer, dev.lora4j.tokenizer.ChatTemplate template,
                      Sampler sampler, int eos) throws java.io.IOException {
        List<dev.lora4j.tokenizer.ChatTemplate.Message> history = new ArrayList<>();
        if (system != null) history.add(new dev.lora4j.tokenizer.ChatTemplate.Message("system", system));
        List<String> stops = new ArrayList<>(stop);
        if (!template.eosToken().isEmpty()) stops.add(template.eosToken());
        java.io.BufferedReader in = new java.io.BufferedReader(new java.io.InputStreamReader(System.in, java.nio.charset.StandardCharsets.UTF_8));
        int context = run.config().maxPositions();
        System.err.println("chat: a line is your turn; /reset forgets the history, /exit quits");
        for (String line; (line = prompt(in)) != null; ) {
            if (line.strip().equals("/exit")) break;
            if (line.strip().equals("/reset")) {
                history.subList(system != null ? 1 : 0, history.size()).clear();
                continue;
            }
            if (line.isBlank()) continue;
            history.add(new dev.lora4j.tokenizer.ChatTemplate.Message("user", line));
            int[] ids = tokenizer.encode(template.render(history, true));
            if (ids.length >= context) {
                history.removeLast();
                System.err.println("chat: the conversation (" + ids.length + " tokens) no longer fits the model's context of " + context + "; /reset to start over");
                continue;
            }
            int[][] reply = Generator.generate(run, new int[][] {ids}, maxNewTokens, sampler, eos, n -> {}, new Stream(tokenizer, eos),
                    (seq, newIds, n) -> stops.stream().anyMatch(tokenizer.decode(Arrays.copyOf(newIds, n))::contains));
            System.out.println();
            String text = tokenizer.decode(Arrays.stream(reply[0]).filter(id -> id != eos).toArray());
            for (String st : stops) if (text.contains(st)) text = text.substring(0, text.indexOf(st));
            history.add(new dev.lora4j.tokenizer.ChatTemplate.Message("assistant", text));
        }
    }

    private static String prompt(java.io.BufferedReader in) throws java.io.IOException {
        System.err.print("> ");
        System.err.flush();
        return in.readLine();
    }

    /** Prints each new token as it comes: what it adds to the decoded text (a token may end inside a character), or its id. */
    private static final class Stream implements java.util.function.IntConsumer {
        private final dev.lora4j.tokenizer.Tokenizer tokenizer;
        private final int eos; // not shown: it ends the text
        private final StringBuilder streamed = new StringBuilder();
        private final List<Integer> sofar = new ArrayList<>();

        Stream(dev.lora4j.tokenizer.Tokenizer tokenizer, int eos) {
            this.tokenizer = tokenizer;
            this.eos = eos;
        }

        @Override
        public void accept(int id) {
            if (id == eos && tokenizer != null) return;
            if (tokenizer == null) {
                System.out.print((streamed.isEmpty() ? "" : " ") + id);
                streamed.append(id);
            } else {
                sofar.add(id);
                String text = tokenizer.decode(sofar.stream().mapToInt(Integer::intValue).toArray());
                if (!text.endsWith("\uFFFD")) {
                    System.out.print(text.substring(streamed.length()));
                    streamed.setLength(0);
                    streamed.append(text);
                }
            }
            System.out.flush();
        }
    }
}
