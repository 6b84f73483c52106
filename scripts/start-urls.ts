/**
 * The observability URLs `npm start` prints for each node. The observability integration test
 * opens exactly these, so what is printed is what was tested.
 */
export function observabilityUrls(gatewayUrl: string, token: string) {
  return {
    metrics: `${gatewayUrl}/bundle/metrics`,
    // The fragment never reaches the server; the page keeps the token in the tab only.
    topology: `${gatewayUrl}/bundle/topology#token=${encodeURIComponent(token)}`,
  };
}

export function observabilityLines(gatewayUrl: string, token: string): string[] {
  const u = observabilityUrls(gatewayUrl, token);
  return [
    `  metrics  ${u.metrics}  (curl -H 'authorization: Bearer ${token}' ${u.metrics})`,
    `  topology ${u.topology}`,
  ];
}
