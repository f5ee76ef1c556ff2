//! Logs, traces and metrics for one process.
//!
//! Every process installs the same three things: a `tracing` subscriber
//! (pretty or JSON), an OpenTelemetry tracer so every span has a W3C trace id
//! (exported over OTLP only when an endpoint is configured), and a Prometheus
//! recorder whose text `/metrics` renders. Trace context crosses process
//! boundaries through [`inject`] and [`adopt_remote_parent`] on header maps.

use std::io::IsTerminal;
use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Level;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::filter::{FilterExt, LevelFilter, filter_fn};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::{LogFormat, TelemetryConfig};

/// Latency buckets (seconds) shared by every `*_seconds` histogram, dense
/// under 50 ms where the mesh's own calls live.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Buckets (seconds) for durations people wait on: food preparation and
/// delivery take minutes, not milliseconds.
const MINUTES_BUCKETS: &[f64] = &[
    60.0, 120.0, 180.0, 300.0, 450.0, 600.0, 900.0, 1200.0, 1800.0, 2700.0, 3600.0, 5400.0, 7200.0,
];

/// Metrics measured in minutes; a full name takes precedence over the
/// `_seconds` suffix rule.
const MINUTES_METRICS: &[&str] = &["kitchen_preparation_seconds", "delivery_duration_seconds"];

/// Buckets of waits that are often instant and sometimes minutes long.
const WAIT_BUCKETS: &[f64] = &[
    0.1, 0.5, 1.0, 2.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0,
];

/// Metrics measured in such waits.
const WAIT_METRICS: &[&str] = &["delivery_assignment_wait_seconds"];

/// Buckets of amounts of money, in major units: a meal's worth, not a
/// latency's. Few, since these histograms carry a restaurant label.
const AMOUNT_BUCKETS: &[f64] = &[10.0, 20.0, 35.0, 50.0, 75.0, 100.0, 200.0, 500.0];

/// Metrics measured in money.
const AMOUNT_METRICS: &[&str] = &["payment_captured_amount", "payment_refund_amount"];

static PROMETHEUS: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process-wide Prometheus recorder, installed on first use so tests that
/// run several services in one process share it.
pub fn prometheus() -> &'static PrometheusHandle {
    PROMETHEUS.get_or_init(|| {
        let latency = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), LATENCY_BUCKETS)
            .and_then(|b| {
                b.upkeep_timeout(Duration::from_secs(5))
                    .set_buckets(LATENCY_BUCKETS)
            });
        let builder = MINUTES_METRICS.iter().fold(latency, |b, name| {
            b?.set_buckets_for_metric(Matcher::Full((*name).to_owned()), MINUTES_BUCKETS)
        });
        let builder = WAIT_METRICS.iter().fold(builder, |b, name| {
            b?.set_buckets_for_metric(Matcher::Full((*name).to_owned()), WAIT_BUCKETS)
        });
        let builder = AMOUNT_METRICS.iter().fold(builder, |b, name| {
            b?.set_buckets_for_metric(Matcher::Full((*name).to_owned()), AMOUNT_BUCKETS)
        });
        let recorder = match builder {
            Ok(b) => b.build_recorder(),
            // The bucket list is a non-empty constant, so this cannot happen;
            // fall back to summaries rather than lose metrics.
            Err(_) => PrometheusBuilder::new().build_recorder(),
        };
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was already installed; /metrics may be empty");
        }
        describe_runtime_metrics();
        handle
    })
}

/// Runs the exporter's upkeep every few seconds, which keeps histograms and
/// idle series tidy. Abort the task at shutdown.
pub fn spawn_upkeep() -> tokio::task::JoinHandle<()> {
    tokio::spawn(async {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            prometheus().run_upkeep();
        }
    })
}

/// Keeps the tracer provider alive; dropping it without [`Telemetry::shutdown`]
/// may lose the last batch of spans.
#[must_use = "call shutdown() at exit to flush spans"]
pub struct Telemetry {
    provider: SdkTracerProvider,
}

impl Telemetry {
    /// Flushes pending spans to the collector.
    pub fn shutdown(self) {
        if let Err(e) = self.provider.shutdown() {
            tracing::warn!(error = %e, "tracer provider shutdown");
        }
    }
}

/// The least a span exported over OTLP may be, whatever `RUST_LOG` says.
const TRACE_FLOOR: Level = Level::INFO;

/// Installs logging, tracing and metrics for a process named `service`.
///
/// Safe to call more than once in one process (tests): later calls keep the
/// first subscriber.
///
/// # Errors
/// The OTLP exporter cannot be built from the configured endpoint.
pub fn init(service: &str, config: &TelemetryConfig) -> anyhow::Result<Telemetry> {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let mut builder = SdkTracerProvider::builder().with_resource(
        opentelemetry_sdk::Resource::builder()
            .with_service_name(service.to_owned())
            .build(),
    );
    if let Some(endpoint) = &config.otlp_endpoint {
        use opentelemetry_otlp::WithExportConfig;
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint.clone())
            .build()?;
        builder = builder.with_batch_exporter(exporter);
    }
    let provider = builder.build();
    let tracer = provider.tracer(service.to_owned());
    opentelemetry::global::set_tracer_provider(provider.clone());

    let logs = || EnvFilter::try_new(&config.log_filter).unwrap_or_else(|_| EnvFilter::new("info"));
    // Exported spans keep a floor of their own, so quieting the logs
    // (`RUST_LOG=warn`) does not switch off the spans an operator follows;
    // events, which the exporter attaches to spans, follow the logs. Without
    // an exporter, spans only give log lines their trace id and follow the
    // logs too: quiet logs then cost no spans at all.
    let exporting = config.otlp_endpoint.is_some();
    let traces = logs().or(filter_fn(move |meta| {
        exporting && meta.is_span() && *meta.level() <= TRACE_FLOOR
    })
    .with_max_level_hint(if exporting {
        LevelFilter::from_level(TRACE_FLOOR)
    } else {
        LevelFilter::OFF
    }));
    let fmt = match config.log_format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .boxed(),
        // Colour only for a terminal: piped into a file or a collector,
        // escape codes are noise to read and to search.
        LogFormat::Pretty => tracing_subscriber::fmt::layer()
            .compact()
            .with_ansi(std::io::stdout().is_terminal())
            .boxed(),
    };
    let otel = tracing_opentelemetry::layer().with_tracer(tracer);
    // A second init in one process (tests) keeps the first subscriber.
    let _ = tracing_subscriber::registry()
        .with(fmt.with_filter(logs()))
        .with(otel.with_filter(traces))
        .try_init();
    prometheus();
    match &config.otlp_endpoint {
        Some(endpoint) => tracing::info!(service, endpoint, "exporting traces over OTLP"),
        None => tracing::info!(
            service,
            "trace export off (OTEL_EXPORTER_OTLP_ENDPOINT unset)"
        ),
    }
    Ok(Telemetry { provider })
}

struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

struct HeaderInjector<'a>(&'a mut http::HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(key.as_bytes()),
            http::HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

/// Makes `span` a child of the trace context in `headers` (if any) and
/// records its trace id in the span's `trace_id` field, so every log line
/// inside it carries the id an operator searches for.
pub fn adopt_remote_parent(span: &tracing::Span, headers: &http::HeaderMap) {
    let parent = TraceContextPropagator::new().extract(&HeaderExtractor(headers));
    if parent.span().span_context().is_valid() {
        let _ = span.set_parent(parent);
    }
    record_trace_id(span);
}

/// Writes the span's OpenTelemetry trace id into its `trace_id` field.
pub fn record_trace_id(span: &tracing::Span) {
    let id = span.context().span().span_context().trace_id();
    if id != opentelemetry::trace::TraceId::INVALID {
        span.record("trace_id", tracing::field::display(id));
    }
}

/// Writes the current span's trace context (`traceparent`, `tracestate`)
/// into outgoing headers.
pub fn inject(headers: &mut http::HeaderMap) {
    let cx = tracing::Span::current().context();
    TraceContextPropagator::new().inject_context(&cx, &mut HeaderInjector(headers));
}

/// The current span's trace context as key/value pairs, for event envelopes.
pub fn current_trace_context() -> std::collections::HashMap<String, String> {
    let mut headers = http::HeaderMap::new();
    inject(&mut headers);
    headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect()
}

/// Help text for the metrics this crate records in every process (the gRPC
/// server's, the pool's, the event bus's), given once the recorder exists.
fn describe_runtime_metrics() {
    metrics::describe_counter!(
        "grpc_server_requests_total",
        "gRPC calls served, by service, method, status code and outcome (ok, refused, error)."
    );
    metrics::describe_histogram!(
        "grpc_server_request_duration_seconds",
        metrics::Unit::Seconds,
        "Seconds to serve a gRPC call, by service and method."
    );
    metrics::describe_gauge!(
        "db_pool_connections",
        "Connections in the database pool, by state (idle, in_use)."
    );
    metrics::describe_gauge!(
        "db_pool_max_connections",
        "The most connections the database pool may open."
    );
    metrics::describe_counter!(
        "events_published_total",
        "Events the outbox relay published to the stream."
    );
    metrics::describe_histogram!(
        "event_publish_lag_seconds",
        metrics::Unit::Seconds,
        "Seconds from an event's commit to its publication on the stream."
    );
    metrics::describe_counter!(
        "events_consumed_total",
        "Events a consumer group handled, by stream, group and outcome."
    );
    metrics::describe_counter!(
        "events_dead_lettered_total",
        "Events moved to the dead-letter stream after failing for good."
    );
}
