/**
 * CloudWatch metrics as embedded metric format (EMF) log lines: Lambda's log stream carries them to CloudWatch
 * Logs, which extracts the metrics; no PutMetricData call, no extra permission. The document shape is AWS's
 * ("Specification: Embedded metric format", Amazon CloudWatch User Guide,
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html):
 * a root `_aws` member with `Timestamp` (epoch ms) and `CloudWatchMetrics` (namespace, dimension sets, metric
 * definitions), and each metric's and dimension's value as a root member of the same name.
 */

/** The namespace of the factory's metrics. */
export const METRIC_NAMESPACE = 'SnapshotFactory';

/** One EMF document: `counts` as Count metrics under {@link METRIC_NAMESPACE}, dimension `Function`. */
export const emfDocument = (functionName: string, counts: Record<string, number>, now = Date.now()): Record<string, unknown> => ({
  _aws: {
    Timestamp: now,
    CloudWatchMetrics: [
      {
        Namespace: METRIC_NAMESPACE,
        Dimensions: [['Function']],
        Metrics: Object.keys(counts).map((Name) => ({ Name, Unit: 'Count' })),
      },
    ],
  },
  Function: functionName,
  ...counts,
});

/**
 * Writes the EMF document to stdout, one line, as CloudWatch Logs expects it (a JSON object per log event).
 *
 * @example emitCounts('reap-builders', { ReapedInstances: 1 })
 */
export const emitCounts = (functionName: string, counts: Record<string, number>, write: (line: string) => void = (line) => process.stdout.write(`${line}\n`)): void =>
  write(JSON.stringify(emfDocument(functionName, counts)));
