package dev.lora4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lora4j.Lora4jException;
import dev.lora4j.generate.Completion;
import dev.lora4j.generate.GenerationConfig;
import dev.lora4j.generate.TextGenerator;
import dev.lora4j.tokenizer.ChatTemplate;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

@Command(name = "generate", mixinStandardHelpOptions = true,
        description = {"Generate tokens with a KV cache.",
                "One prompt's text is streamed as it comes; several prompts run as one batch (any lengths) and each answer",
                "is printed after its own '--- N ---' line. Stops at EOS (config.json's and generation_config.json's",
                "eos_token_id), a --stop string or --max-new-tokens. With --json the last line is",
                "{\"ids\": [...], \"text\": ..., \"finish_reason\": \"stop\"|\"length\"} (lists when several prompts; text,",
                "without the end-of-sequence token, when the model has a tokenizer).",
                "--chat: an interactive session on stdin, the history rendered through the model's chat template each turn",
                "(a line is one user turn; /reset forgets the history; /exit or end of input quits)."})
final class GenerateCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, paramLabel = "DIR", description = "Hugging Face checkpoint directory.")
    Path model;

    @Option(names = "--adapter", paramLabel = "[NAME=]DIR[:WEIGHT]", description = {
            "PEFT adapters applied unmerged (repeatable; several apply as their weighted sum, or, with --route,",
            "each prompt of a mixed batch runs with its own)."})
    List<String> adapters = new ArrayList<>();

    @Option(names = "--prompt-ids", paramLabel = "ID,ID,...", description = "A prompt as token ids (repeatable; several prompts run as one batch).")
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
    @picocli.CommandLine.Mixin
    QuantizeOption quantize = new QuantizeOption();

    @Option(names = "--json", description = "End stdout with one JSON object: ids (the new token ids).")
    boolean json;

    @Override
    public Integer call() throws Exception {
        threads.apply();
        if ((prompt.isEmpty() ? 0 : 1) + (promptIds.isEmpty() ? 0 : 1) + (chat ? 1 : 0) != 1)
            throw new Lora4jException("give one of --prompt TEXT, --prompt-ids or --chat");
        if (chat && (route != null || json)) throw new Lora4jException("--chat takes neither --route nor --json");
        GenerationConfig config;
        try {
            config = GenerationConfig.builder().maxNewTokens(maxNewTokens).temperature(temperature).topK(topK).topP(topP)
                    .repetitionPenalty(repetitionPenalty).seed(seed).stopStrings(stop).build();
        } catch (Lora4jException e) { // the library names its fields; say the options
            throw new Lora4jException(e.getMessage().replace("maxNewTokens", "--max-new-tokens").replace("temperature", "--temperature")
                    .replace("topK", "--top-k").replace("topP", "--top-p").replace("repetitionPenalty", "--repetition-penalty")
                    .replace("a stop string", "--stop"));
        }
        List<TextGenerator.Request> requests = new ArrayList<>();
        for (String ids : promptIds) {
            try {
                requests.add(TextGenerator.Request.ids(Arrays.stream(ids.split(",")).map(String::strip).mapToInt(Integer::parseInt).toArray()));
            } catch (NumberFormatException e) {
                throw new Lora4jException("--prompt-ids '" + ids + "' must be comma-separated integers");
            }
        }
        for (String text : prompt) requests.add(TextGenerator.Request.text(text));
        if (route != null && route.size() != requests.size())
            throw new Lora4jException("--route names " + route.size() + " adapters for " + requests.size() + " prompts");
        // an IA³ or bottleneck adapter changes the model itself: every request runs with it, so it is not one of the per-request adapters
        Path whole = AdapterSpecs.wholeModel(adapters, route != null);
        try (TextGenerator g = TextGenerator.builder(model).chatTemplate(chatTemplate).quantize(quantize.type()).wholeModelAdapter(whole)
                .onQuantized(r -> System.err.println(r.describe())).build()) {
            if ((!prompt.isEmpty() || chat) && g.tokenizer() == null)
                throw new Lora4jException(model + ": no tokenizer.json, so text cannot be encoded; give --prompt-ids");
            if (chat && g.chatTemplate() == null)
                throw new Lora4jException(model + ": tokenizer_config.json has no chat_template; give one with --chat-template FILE");
            // a NaN weight would make every logit NaN and the "answer" token 0, silently: refused, named
            String bad = g.base().source().firstNonFinite();
            if (bad != null) throw new Lora4jException(model + ": holds a non-finite weight, " + bad + "; generation would be meaningless");
            String adapter = null;
            if (route != null) {
                for (var e : AdapterSpecs.named(g.base(), adapters).adapters().entrySet()) g.addAdapter(e.getKey(), e.getValue());
            } else if (!adapters.isEmpty() && whole == null) {
                adapter = "adapter";
                g.addAdapter(adapter, AdapterSpecs.weightedSumModel(g.base(), adapters));
            }
            if (!g.base().copyWeightsForDecoding()) // the generator would try again, silently
                System.err.println("lora4j: note: a heap copy of the weights (for faster decoding) would take more than half"
                        + " the free heap, so decoding reads them from the checkpoint file (slower); more heap: LORA4J_JAVA_OPTS=-Xmx...");
            if (chat) {
                chat(g, adapter, config);
                return 0;
            }
            for (int i = 0; i < requests.size(); i++) {
                String a = route != null ? (route.get(i).equals("-") ? null : route.get(i)) : adapter;
                requests.set(i, requests.get(i).adapter(a).config(config));
            }
            boolean one = requests.size() == 1;
            if (one && g.tokenizer() != null) requests.set(0, requests.getFirst().listener(piece -> { // streamed as it comes
                System.out.print(piece);
                System.out.flush();
            }));
            List<Completion> done = g.generate(requests); // one ragged batch
            for (int i = 0; i < done.size(); i++) {
                Completion c = done.get(i);
                if (!one) System.out.println("--- " + (i + 1) + " ---");
                if (g.tokenizer() == null) System.out.print(Arrays.stream(c.ids()).mapToObj(Integer::toString).reduce((x, y) -> x + " " + y).orElse(""));
                else if (!one) System.out.print(c.text());
                System.out.println();
            }
            if (json) {
                Map<String, Object> o = new LinkedHashMap<>();
                if (one) o.put("ids", Arrays.stream(done.getFirst().ids()).boxed().toList());
                else o.put("ids", done.stream().map(c -> Arrays.stream(c.ids()).boxed().toList()).toList());
                if (g.tokenizer() != null) o.put("text", one ? done.getFirst().text() : done.stream().map(Completion::text).toList());
                o.put("finish_reason", one ? reason(done.getFirst()) : done.stream().map(GenerateCommand::reason).toList());
                System.out.println(new ObjectMapper().writeValueAsString(o));
            }
        }
        return 0;
    }

    private static String reason(Completion c) {
        return c.finishReason().name().toLowerCase(java.util.Locale.ROOT);
    }

    /**
     * The interactive session: each stdin line is a user turn; the whole history is rendered through the
     * template (with the generation prompt) and the reply streamed until EOS, the template's eos_token
     * text, a --stop string or --max-new-tokens.
     */
    private void chat(TextGenerator g, String adapter, GenerationConfig config) throws java.io.IOException {
        List<ChatTemplate.Message> history = new ArrayList<>();
        if (system != null) history.add(new ChatTemplate.Message("system", system));
        java.io.BufferedReader in = new java.io.BufferedReader(new java.io.InputStreamReader(System.in, java.nio.charset.StandardCharsets.UTF_8));
        int context = g.config().maxPositions();
        System.err.println("chat: a line is your turn; /reset forgets the history, /exit quits");
        for (String line; (line = prompt(in)) != null; ) {
            if (line.strip().equals("/exit")) break;
            if (line.strip().equals("/reset")) {
                history.subList(system != null ? 1 : 0, history.size()).clear();
                continue;
            }
            if (line.isBlank()) continue;
            history.add(new ChatTemplate.Message("user", line));
            int promptTokens = g.tokenizer().encode(g.chatTemplate().render(history, true)).length;
            if (promptTokens >= context) {
                history.removeLast();
                System.err.println("chat: the conversation (" + promptTokens + " tokens) no longer fits the model's context of " + context + "; /reset to start over");
                continue;
            }
            Completion reply = g.generate(TextGenerator.Request.chat(history).adapter(adapter).config(config).listener(piece -> {
                System.out.print(piece);
                System.out.flush();
            }));
            System.out.println();
            history.add(new ChatTemplate.Message("assistant", reply.text()));
        }
    }

    private static String prompt(java.io.BufferedReader in) throws java.io.IOException {
        System.err.print("> ");
        System.err.flush();
        return in.readLine();
    }
}
