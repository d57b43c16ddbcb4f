package dev.lora4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lora4j.Lora4jException;
import dev.lora4j.generate.Generator;
import dev.lora4j.generate.Sampler;
import dev.lora4j.lora.AdapterSet;
import dev.lora4j.model.Transformer;
import dev.lora4j.tensor.Parallel;
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
                "(a list per prompt when several; text when the model has a tokenizer)."})
final class GenerateCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, paramLabel = "DIR", description = "Hugging Face checkpoint directory.")
    Path model;

    @Option(names = "--adapter", paramLabel = "[NAME=]DIR[:WEIGHT]", description = {
            "PEFT adapters applied unmerged (repeatable; several apply as their weighted sum, or, with --route,",
            "each prompt of a mixed batch runs with its own)."})
    List<String> adapters = new ArrayList<>();

    @Option(names = "--prompt-ids", paramLabel = "ID,ID,...", description = "A prompt as token ids (repeatable: prompts of equal length, batched).")
    List<String> promptIds = new ArrayList<>();

    @Option(names = "--route", split = ",", paramLabel = "NAME,...", description = "Adapter name per prompt (- for none): a mixed-adapter batch.")
    List<String> route;

    @Option(names = "--prompt", paramLabel = "TEXT", description = "A text prompt, encoded with the model's tokenizer.json (byte-level BPE, as GPT-2).")
    String prompt;

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

    @Option(names = "--threads", paramLabel = "N", description = "Worker threads (default: all cores).")
    Integer threads;

    @Option(names = "--json", description = "End stdout with one JSON object: ids (the new token ids).")
    boolean json;

    @Override
    public Integer call() throws Exception {
        if (threads != null) Parallel.setThreads(Options.positive("--threads", threads));
        if ((prompt == null) == promptIds.isEmpty()) throw new Lora4jException("give --prompt TEXT or --prompt-ids (not both)");
        dev.lora4j.tokenizer.Tokenizer tokenizer = java.nio.file.Files.exists(model.resolve("tokenizer.json"))
                ? dev.lora4j.tokenizer.Tokenizer.load(model) : null;
        if (prompt != null && tokenizer == null) throw new Lora4jException(model + ": no tokenizer.json, so --prompt cannot be encoded; give --prompt-ids");
        if (prompt != null) promptIds = List.of(Arrays.stream(tokenizer.encodeWithSpecialTokens(prompt)).mapToObj(Integer::toString).reduce((a, b) -> a + "," + b)
                .orElseThrow(() -> new Lora4jException("--prompt encodes to no tokens")));        if (maxNewTokens < 1) throw new Lora4jException("--max-new-tokens must be positive, got " + maxNewTokens);
        if (temperature < 0 || topP <= 0 || topP > 1 || repetitionPenalty <= 0)
            throw new Lora4jException("need --temperature >= 0, 0 < --top-p <= 1 and --repetition-penalty > 0");
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
            int eos = base.source().config().path("eos_token_id").isInt() ? base.source().config().get("eos_token_id").asInt() : -1;
            Sampler sampler = new Sampler(temperature, topK, topP, repetitionPenalty, new SplittableRandom(seed));
            if (!stop.isEmpty() && tokenizer == null) throw new Lora4jException("--stop needs the model's tokenizer.json, and the model directory has none");
            Generator.StopCondition stopAt = (seq, newIds, n) -> {
                if (stop.isEmpty()) return false;
                String text = tokenizer.decode(Arrays.copyOf(newIds, n));
                return stop.stream().anyMatch(text::contains);
            };
            StringBuilder streamed = new StringBuilder();
            List<Integer> sofar = new ArrayList<>();
            int[][] ids = Generator.generate(run, prompts, maxNewTokens, sampler, eos, before, id -> {
                if (tokenizer == null) {
                    System.out.print((streamed.isEmpty() ? "" : " ") + id);
                    streamed.append(id);
                } else { // print what the new token adds to the decoded text (a token may end inside a character)
                    sofar.add(id);
                    String text = tokenizer.decode(sofar.stream().mapToInt(Integer::intValue).toArray());
                    if (!text.endsWith("\uFFFD")) {
                        System.out.print(text.substring(streamed.length()));
                        streamed.setLength(0);
                        streamed.append(text);
                    }
                }
                System.out.flush();
            }, stopAt);
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
}
