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
