package dev.lora4j.tokenizer;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.el.JinjavaInterpreterResolver;
import com.hubspot.jinjava.el.JinjavaProcessors;
import com.hubspot.jinjava.interpret.Context;
import com.hubspot.jinjava.el.ext.AbstractCallableMethod;
import com.hubspot.jinjava.lib.exptest.ExpTest;
import com.hubspot.jinjava.lib.filter.Filter;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import com.hubspot.jinjava.util.ForLoop;
import jinjava.javax.el.ELContext;
import jinjava.javax.el.ELResolver;

import java.beans.FeatureDescriptor;
import java.io.IOException;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A Jinjava environment locked down for chat templates, which come from downloaded files and are
 * untrusted (Hugging Face renders them in an immutable sandbox for the same reason):
 * <ul>
 *   <li>no other templates or files: include, import, from and extends are disabled and the resource
 *       locator refuses every name;</li>
 *   <li>no Java objects: properties are read only from the maps, lists and strings the template was
 *       given (and {@code loop}'s counters), only a fixed list of Python-named string/dict/list methods
 *       may be called besides Jinjava's own filters, tests and macros, so the interpreter, class loaders
 *       and reflection stay out of reach whatever path an expression takes;</li>
 *   <li>bounded work: at most {@link Limits#nodes} template nodes, {@link Limits#millis} of rendering,
 *       and output, strings and lists of bounded size.</li>
 * </ul>
 * A template that steps outside gets a {@link Violation}, which {@link ChatTemplate} reports with the
 * template's origin.
 */
final class TemplateSandbox {
    /** What one render may use. */
    record Limits(long nodes, long millis, long outputChars, int listSize, int rangeLimit) {
        static final Limits DEFAULT = new Limits(2_000_000, 5_000, 32L << 20, 100_000, 100_000);
    }

    /** A template tried something the sandbox forbids, or ran past a limit. */
    static final class Violation extends RuntimeException {
        Violation(String message) {
            super(message, null, false, false);
        }
    }

    /** Methods a template may call, by Python's names (those Java's String, Map or List also has work as in Jinja). */
    private static final Set<String> METHODS = Set.of("strip", "lstrip", "rstrip", "startswith", "endswith", "split", "upper",
            "lower", "title", "capitalize", "replace", "items", "keys", "values", "get", "count", "find", "index", "join",
            "append", "isEmpty", "length", "size", "contains", "startsWith", "endsWith", "toUpperCase", "toLowerCase", "trim");

    /** What a template may read of {@code loop} inside a for block. */
    private static final Set<String> LOOP_PROPERTIES = Set.of("index", "index0", "revindex", "revindex0", "first", "last", "length",
            "depth", "depth0", "previtem", "nextitem");

    private static final Set<String> DISABLED_TAGS = Set.of("include", "import", "from", "extends");

    private static final ThreadLocal<Budget> BUDGET = new ThreadLocal<>();

    private static final class Budget {
        final Limits limits;
        final long deadline;
        long nodes;

        Budget(Limits limits) {
            this.limits = limits;
            this.deadline = System.nanoTime() + limits.millis() * 1_000_000L;
        }
    }

    private TemplateSandbox() {}

    static Jinjava newJinjava(Limits limits) {
        JinjavaConfig config = JinjavaConfig.newBuilder()
                .withTrimBlocks(true).withLstripBlocks(true).withFailOnUnknownTokens(false)
                .withDisabled(Map.of(Context.Library.TAG, DISABLED_TAGS))
                .withElResolver(new AllowListResolver(JinjavaInterpreterResolver.DEFAULT_RESOLVER_READ_ONLY))
                .withEnableRecursiveMacroCalls(false)
                .withNestedInterpretationEnabled(false)
                .withMaxOutputSize(limits.outputChars())
                .withMaxStringLength(limits.outputChars())
                .withMaxListSize(limits.listSize())
                .withMaxMapSize(limits.listSize())
                .withRangeLimit(limits.rangeLimit())
                .withProcessors(JinjavaProcessors.newBuilder().withNodePreProcessor((node, interpreter) -> charge()).build())
                .build();
        Jinjava j = new Jinjava(config);
        j.setResourceLocator((name, encoding, interpreter) -> {
            throw new IOException("templates may not load other templates or files ('" + name + "')");
        });
        j.getGlobalContext().registerFunction(new ELFunctionDefinition("", "raise_exception", ChatTemplate.class, "raise", String.class));
        return j;
    }

    /** Runs one render under a fresh budget on this thread. */
    static <T> T withBudget(Limits limits, java.util.function.Supplier<T> render) {
        Budget previous = BUDGET.get();
        BUDGET.set(new Budget(limits));
        try {
            return render.get();
        } finally {
            if (previous == null) BUDGET.remove();
            else BUDGET.set(previous);
        }
    }

    private static void charge() {
        Budget b = BUDGET.get();
        if (b == null) return;
        if (++b.nodes > b.limits.nodes())
            throw new Violation("the template ran past " + b.limits.nodes() + " steps (an unbounded or nested loop?)");
        if ((b.nodes & 63) == 0 && System.nanoTime() > b.deadline)
            throw new Violation("the template ran past " + b.limits.millis() + " ms");
    }

    /** Lets expressions reach only plain data: maps, lists, arrays, strings, numbers, booleans. */
    private static final class AllowListResolver extends ELResolver {
        private final ELResolver delegate;

        AllowListResolver(ELResolver delegate) {
            this.delegate = delegate;
        }

        private static boolean isData(Object base) {
            return base instanceof Map<?, ?> || base instanceof List<?> || base instanceof String
                    || base instanceof Number || base instanceof Boolean || base instanceof Character
                    || (base != null && base.getClass().isArray() && !base.getClass().getComponentType().isPrimitive());
        }

        private static boolean mayInvoke(Object base, String name) {
            return switch (base) {
                case Filter f -> name.equals("filter");
                case ExpTest t -> name.equals("evaluate") || name.equals("evaluateNegated");
                case AbstractCallableMethod m -> name.equals("evaluate");
                case ForLoop l -> name.equals("cycle");
                case Number n -> false;
                case Boolean b -> false;
                default -> isData(base) && METHODS.contains(name);
            };
        }

        private static void check(Object base, Object property) {
            if (base != null && !isData(base))
                throw new Violation("the template reached into a " + base.getClass().getSimpleName() + " ('" + property + "'), which templates may not touch");
            if (base instanceof String && property != null && !(property instanceof Number))
                throw new Violation("the template read property '" + property + "' of a string, which templates may not do");
        }

        // Jinjava reads a method's name as a property first (to find macros stored as values), then
        // invokes it; a name that may be invoked therefore reads as nothing here.
        @Override
        public Object getValue(ELContext context, Object base, Object property) {
            if (base == null) return null;
            String name = String.valueOf(property);
            if (mayInvoke(base, name) && !(base instanceof Map<?, ?> m && m.containsKey(name))) return null;
            if (base instanceof ForLoop && LOOP_PROPERTIES.contains(name)) return delegate.getValue(context, base, property);
            check(base, property);
            return delegate.getValue(context, base, property);
        }

        @Override
        public Object invoke(ELContext context, Object base, Object method, Class<?>[] paramTypes, Object[] params) {
            if (base == null) return null;
            String name = String.valueOf(method);
            if (!mayInvoke(base, name))
                throw new Violation("the template called " + name + "() on a " + base.getClass().getSimpleName() + ", which templates may not do");
            return delegate.invoke(context, base, method, paramTypes, params);
        }

        @Override
        public Class<?> getType(ELContext context, Object base, Object property) {
            if (base == null) return null;
            check(base, property);
            return delegate.getType(context, base, property);
        }

        @Override
        public void setValue(ELContext context, Object base, Object property, Object value) {
            if (base == null) return;
            check(base, property);
            delegate.setValue(context, base, property, value);
        }

        @Override
        public boolean isReadOnly(ELContext context, Object base, Object property) {
            return base == null || !isData(base) || delegate.isReadOnly(context, base, property);
        }

        @Override
        public Iterator<FeatureDescriptor> getFeatureDescriptors(ELContext context, Object base) {
            return null;
        }

        @Override
        public Class<?> getCommonPropertyType(ELContext context, Object base) {
            return base == null ? null : Object.class;
        }
    }
}
