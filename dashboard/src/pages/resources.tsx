import { useEffect } from 'preact/hooks';
import type { ComponentChildren } from 'preact';
import type { App, Cluster, ItemOf } from '../../../src/sdk/index.js';
import { errorText, isSignedOut } from '../api.js';
import { ErrorMessage, Loading, StatusBadge, useLoad } from '../components.js';
import { relative, when } from '../format.js';
import type { PageProps } from '../main.js';

interface Column<T> {
  title: string;
  cell: (row: T) => ComponentChildren;
}

/**
 * A read-only list page: the first page of the API's list (up to 100), refreshed every few seconds so
 * statuses move without a reload. An error is shown as the API's own detail, e.g. a key without the
 * route's scope reads "API key missing required scope: clusters:read".
 */
function ListPage<T extends { id: string }>(props: PageProps & { title: string; what: string; intro: string; load: () => Promise<T[]>; columns: Array<Column<T>> }) {
  const list = useLoad(props.load, []);
  useEffect(() => {
    if (isSignedOut(list.error)) props.onSignedOut(errorText(list.error));
  }, [list.error]);
  useEffect(() => {
    const timer = setInterval(list.reload, 5000);
    return () => clearInterval(timer);
  }, []);
  const rows = list.data ?? [];
  return (
    <>
      <h1 tabIndex={-1}>{props.title}</h1>
      <p class="muted">{props.intro}</p>
      <ErrorMessage error={list.error === null ? null : errorText(list.error)} />
      {list.data === null && list.error === null ? <Loading what={props.what} /> : null}
      {list.data !== null && rows.length === 0 ? <p>No {props.what} yet.</p> : null}
      {rows.length > 0 ? (
        <div class="table-wrap">
          <table>
            <caption class="visually-hidden">{props.title}</caption>
            <thead>
              <tr>
                {props.columns.map((column) => (
                  <th scope="col" key={column.title}>
                    {column.title}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {rows.map((row) => (
                <tr key={row.id}>
                  {props.columns.map((column) => (
                    <td key={column.title}>{column.cell(row)}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </>
  );
}

export function ClustersPage(props: PageProps) {
  const columns: Array<Column<Cluster>> = [
    { title: 'Name', cell: (cluster) => cluster.name },
    { title: 'Status', cell: (cluster) => <StatusBadge status={cluster.status} /> },
    { title: 'Region', cell: (cluster) => cluster.region },
    { title: 'Kubernetes', cell: (cluster) => cluster.kubernetes_version },
    { title: 'Id', cell: (cluster) => <code>{cluster.id}</code> },
  ];
  const load = async () => (await props.client.GET('/clusters', { params: { query: { limit: 100 } } })).data?.data ?? [];
  return <ListPage {...props} title="Clusters" what="clusters" intro="Kubernetes clusters of this account." load={load} columns={columns} />;
}

export function AppsPage(props: PageProps) {
  const columns: Array<Column<App>> = [
    { title: 'Name', cell: (app) => app.name },
    { title: 'Type', cell: (app) => app.type },
    { title: 'Status', cell: (app) => <StatusBadge status={app.status} /> },
    { title: 'Image', cell: (app) => (app.image === null ? '—' : <code>{app.image}</code>) },
    { title: 'Cluster', cell: (app) => <code>{app.cluster_id}</code> },
  ];
  const load = async () => (await props.client.GET('/apps', { params: { query: { limit: 100 } } })).data?.data ?? [];
  return <ListPage {...props} title="Apps" what="apps" intro="Applications (Airflow, services) running on the clusters." load={load} columns={columns} />;
}

export function JobsPage(props: PageProps) {
  const columns: Array<Column<ItemOf<'/jobs'>>> = [
    { title: 'Job', cell: (job) => <a href={`#/jobs/${encodeURIComponent(job.id)}`}>{job.type.replace(/_/g, ' ')}</a> },
    { title: 'Status', cell: (job) => <StatusBadge status={job.status} /> },
    { title: 'Resource', cell: (job) => <code>{job.resource_id}</code> },
    { title: 'Created', cell: (job) => <span title={when(job.created_at)}>{relative(job.created_at)}</span> },
    { title: 'Finished', cell: (job) => when(job.finished_at) },
  ];
  const load = async () => (await props.client.GET('/jobs', { params: { query: { limit: 100 } } })).data?.data ?? [];
  return <ListPage {...props} title="Jobs" what="jobs" intro="Asynchronous operations: creating, upgrading and destroying clusters, deploys, DAG syncs." load={load} columns={columns} />;
}

const RUNNING = new Set(['queued', 'running']);

/** One job: its steps and log, followed live (once a second) while it is queued or running. */
export function JobPage({ client, id, onSignedOut }: PageProps & { id: string }) {
  const job = useLoad(async () => (await client.GET('/jobs/{id}', { params: { path: { id } } })).data ?? null, [id]);
  useEffect(() => {
    if (isSignedOut(job.error)) onSignedOut(errorText(job.error));
  }, [job.error]);
  const running = job.data !== null && RUNNING.has(job.data.status);
  useEffect(() => {
    if (!running) return;
    // Each answer is a new `job.data`, which sets the next timer: once a second until it ends.
    const timer = setTimeout(job.reload, 1000);
    return () => clearTimeout(timer);
  }, [running, job.data]);

  if (job.data === null) {
    return (
      <>
        <h1 tabIndex={-1}>Job</h1>
        {job.error === null ? <Loading what="the job" /> : <ErrorMessage error={errorText(job.error)} />}
      </>
    );
  }
  const current = job.data;
  return (
    <>
      <p>
        <a href="#/jobs">← All jobs</a>
      </p>
      <div class="page-head">
        <h1 tabIndex={-1}>{current.type.replace(/_/g, ' ')}</h1>
        <span role="status" aria-live="polite">
          <StatusBadge status={current.status} />
        </span>
      </div>
      {job.error !== null ? <ErrorMessage error={errorText(job.error)} /> : null}
      <dl class="facts">
        <dt>Job</dt>
        <dd>
          <code>{current.id}</code>
        </dd>
        <dt>Resource</dt>
        <dd>
          {current.resource_type} <code>{current.resource_id}</code>
        </dd>
        <dt>Started</dt>
        <dd>{when(current.started_at)}</dd>
        <dt>Finished</dt>
        <dd>{when(current.finished_at)}</dd>
        {current.error !== null ? (
          <>
            <dt>Error</dt>
            <dd>
              {current.error.message} (<code>{current.error.code}</code>)
            </dd>
          </>
        ) : null}
      </dl>
      <h2>Steps</h2>
      <ol class="steps">
        {current.steps.map((step) => (
          <li key={step.name}>
            <StatusBadge status={step.status} /> {step.name}
          </li>
        ))}
      </ol>
      <h2>Log</h2>
      <pre class="log" tabIndex={0} aria-label="Job log">
        {current.logs.map((line) => `${when(line.at)}  ${line.level.padEnd(5)} ${line.step === null ? '' : `[${line.step}] `}${line.message}`).join('\n') || 'No log lines yet.'}
      </pre>
    </>
  );
}
