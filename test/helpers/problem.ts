import { expect } from 'vitest';

/** The problem+json body every error carries (CONTRACT §3), as tests read it. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  code: string;
  detail: string;
  request_id: string;
  errors?: Array<{ path: string; message: string }>;
  [key: string]: unknown;
}

/** The answer is the problem `code` with `status`, in the shape CONTRACT §3 gives every error; returns its body. */
export function expectProblem(response: { statusCode: number; headers: Record<string, unknown>; body: string; json: () => unknown }, status: number, code: string): Problem {
  expect(response.statusCode, response.body.slice(0, 500)).toBe(status);
  expect(String(response.headers['content-type'])).toMatch(/^application\/problem\+json/);
  const body = response.json() as Problem;
  expect(body).toMatchObject({ type: `https://docs.skaledata.com/errors/${code}`, status, code });
  expect(body.detail.length).toBeGreaterThan(0);
  expect(body.request_id).toMatch(/^req_[0-9A-Za-z]+$/);
  return body;
}
