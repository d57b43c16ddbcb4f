package dev.lora4j.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import dev.lora4j.Lora4jException;
import dev.lora4j.io.ModelFiles;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A model's chat template: the Jinja source in tokenizer_config.json's {@code chat_template} (or a file
 * given with --chat-template), rendered as transformers' apply_chat_template does: trim_blocks and
 * lstrip_blocks on, {@code messages}, {@code add_generation_prompt}, {@code bos_token},
 * {@code eos_token} and {@code raise_exception} in scope. Rendering is Jinjava's; the tests hold it to
 * {@code @huggingface/jinja} on templates of each family we support.
 */
public final class ChatTemplate {
    /** One turn of a conversation: role (system, user, assistant, ...) and its text. */
    public record Message(String role, String content) {}

    private static final Jinjava JINJA = TemplateSandbox.newJinjava(TemplateSandbox.Limits.DEFAULT);

    private final String source, origin, bosToken, eosToken;

    private static final java.util.regex.Pattern LOOP_FILTER = java.util.regex.Pattern.compile("\\{%-?\\s*for\\s[^%]*\\sin\\s[^%]*\\sif\\s");

    public ChatTemplate(String source, String origin, String bosToken, String eosToken) {
        if (LOOP_FILTER.matcher(source).find())
            throw new Lora4jException(origin + ": the chat template filters a loop ({% for x in xs if ... %}), which is not supported yet;"
                    + " filter the list first (xs | selectattr(...)) or pass --chat-template FILE");
        this.source = applyWhitespaceControl(source);
        this.origin = origin;
        this.bosToken = bosToken == null ? "" : bosToken;
        this.eosToken = eosToken == null ? "" : eosToken;
    }

    private static final java.util.regex.Pattern STRIP_BEFORE = java.util.regex.Pattern.compile("\\s*(\\{[{%#])-");
    private static final java.util.regex.Pattern STRIP_AFTER = java.util.regex.Pattern.compile("-([}%#]\\})\\s*");

    /**
     * Applies Jinja's "-" whitespace control ({@code {{-}, {@code -}}}, and the same on tags and comments)
     * to the source before Jinjava sees it: Jinjava ignores it on expressions.
     */
    static String applyWhitespaceControl(String source) {
        return STRIP_AFTER.matcher(STRIP_BEFORE.matcher(source).replaceAll("$1")).replaceAll("$1");
    }


    /** Jinja's raise_exception(message): the template refuses the conversation. */
    public static String raise(String message) {
        throw new TemplateRefusal(message);
    }

    private static final class TemplateRefusal extends RuntimeException {
        TemplateRefusal(String message) {
            super(message);
        }
    }

    /**
     * The template of a model directory: overrideFile when given, else tokenizer_config.json's
     * chat_template (a string, or a list of named templates of which "default" is taken); null when neither.
     */
    /** A GGUF file's tokenizer.chat_template, with its vocabulary's BOS and EOS texts; null when it has none. */
    private static ChatTemplate ofGguf(Path file) {
        try (var f = dev.lora4j.io.gguf.GgufFile.open(file)) {
            if (!(f.metadata().get("tokenizer.chat_template") instanceof String template)) return null;
            var vocab = dev.lora4j.io.gguf.GgufVocab.read(f);
            String bos = vocab != null && vocab.bos() >= 0 && vocab.bos() < vocab.tokens().length ? vocab.tokens()[vocab.bos()] : null;
            String eos = vocab != null && vocab.eos() >= 0 && vocab.eos() < vocab.tokens().length ? vocab.tokens()[vocab.eos()] : null;
            return new ChatTemplate(template, file + " (tokenizer.chat_template)", bos, eos);
        }
    }

    public static ChatTemplate ofModel(Path modelDir, Path overrideFile) {
        if (overrideFile == null && Tokenizer.isGguf(modelDir)) return ofGguf(modelDir);
        Path config = modelDir.resolve("tokenizer_config.json");
        JsonNode cfg = Files.exists(config) ? ModelFiles.readJson(config) : null;
        String bos = cfg == null ? null : tokenText(cfg.get("bos_token")), eos = cfg == null ? null : tokenText(cfg.get("eos_token"));
        if (overrideFile != null) {
            try {
                return new ChatTemplate(Files.readString(overrideFile), overrideFile.toString(), bos, eos);
            } catch (IOException e) {
                throw new Lora4jException(overrideFile + ": cannot read the chat template (" + e.getMessage() + ")");
            }
        }
        if (cfg == null || !cfg.has("chat_template") || cfg.get("chat_template").isNull()) return null;
        JsonNode t = cfg.get("chat_template");
        if (t.isTextual()) return new ChatTemplate(t.asText(), config.toString(), bos, eos);
        if (t.isArray()) {
            for (JsonNode named : t)
                if (named.path("name").asText().equals("default")) return new ChatTemplate(named.path("template").asText(), config + " (default)", bos, eos);
            throw new Lora4jException(config + ": chat_template is a list without a template named 'default'");
        }
        throw new Lora4jException(config + ": chat_template must be a string or a list of {name, template}");
    }

    /** bos_token / eos_token as written: a plain string or an AddedToken object with "content". */
    private static String tokenText(JsonNode n) {
        if (n == null || n.isNull()) return null;
        return n.isTextual() ? n.asText() : n.path("content").asText(null);
    }

    /** What decides the rendering: the source and the special tokens' text. */
    public String fingerprint() {
        return source + "\u0000" + bosToken + "\u0000" + eosToken;
    }

    public String bosToken() {
        return bosToken;
    }

    public String eosToken() {
        return eosToken;
    }

    /** The conversation as the model's prompt text; with addGenerationPrompt, ending where the assistant's reply begins. */
    public String render(List<Message> messages, boolean addGenerationPrompt) {
        List<Map<String, Object>> msgs = new ArrayList<>();
        for (Message m : messages) {
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("role", m.role());
            o.put("content", m.content());
            msgs.add(o);
        }
        Map<String, Object> ctx = new HashMap<>();
        ctx.put("messages", msgs);
        ctx.put("add_generation_prompt", addGenerationPrompt);
        ctx.put("bos_token", bosToken);
        ctx.put("eos_token", eosToken);
        RenderResult r;
        try {
            r = TemplateSandbox.withBudget(TemplateSandbox.Limits.DEFAULT, () -> JINJA.renderForResult(source, ctx));
        } catch (RuntimeException e) {
            throw failure(e, -1, e.getMessage());
        }
        for (TemplateError e : r.getErrors()) {
            // Jinjava reports a recursive macro (refused by the sandbox) only as a warning, and renders nothing for it
            boolean cycle = e.getMessage() != null && e.getMessage().startsWith("Cycle detected for macro");
            if (e.getSeverity() != TemplateError.ErrorType.FATAL && !cycle) continue;
            throw failure(e.getException(), e.getLineno(), e.getMessage());
        }
        return r.getOutput();
    }

    /** The error for a failed render: the template's own refusal, a sandbox violation, or a broken template. */
    private Lora4jException failure(Throwable cause, int line, String message) {
        for (Throwable t = cause; t != null; t = t.getCause()) {
            if (t instanceof TemplateRefusal r) return new Lora4jException(origin + ": the chat template refused the conversation: " + r.getMessage());
            if (t instanceof TemplateSandbox.Violation v) return new Lora4jException(origin + ": the chat template was stopped: " + v.getMessage());
        }
        String where = line > 0 ? " at line " + line : "";
        return new Lora4jException(origin + ": the chat template failed" + where + ": " + message);
    }
}
