<?php
/**
 * The Service_Client's transport in WordPress: the HTTP API (wp_remote_request).
 *
 * @package RelatedHeadlines
 */

namespace RelatedHeadlines;

defined( 'ABSPATH' ) || exit;

/**
 * Sends a request with wp_remote_request.
 *
 * Requests are blocking, with the client's short timeouts (3 s for a write, 2 s for a read): a
 * non-blocking request answers nothing, so a lost write could be neither logged nor retried, and a
 * read must wait for its answer anyway. No redirect is followed (a write must not be replayed to
 * another host with its key).
 */
final class WP_Transport {

	/**
	 * Sends one request.
	 *
	 * @param string      $method  HTTP method.
	 * @param string      $url     URL.
	 * @param array       $headers Headers.
	 * @param string|null $body    Body.
	 * @param float       $timeout Seconds.
	 * @return array array( 'status' => int (0: no answer), 'body' => string, 'error' => string ).
	 */
	public function __invoke( $method, $url, array $headers, $body, $timeout ) {
		$args = array(
			'method'      => $method,
			'headers'     => $headers,
			'timeout'     => $timeout,
			'redirection' => 0,
			'blocking'    => true,
			'user-agent'  => 'related-headlines-wordpress/' . RELATED_HEADLINES_VERSION,
		);
		if ( null !== $body ) {
			$args['body'] = $body;
		}
		$response = wp_remote_request( $url, $args );
		if ( is_wp_error( $response ) ) {
			return array(
				'status' => 0,
				'body'   => '',
				'error'  => $response->get_error_message(),
			);
		}
		return array(
			'status' => (int) wp_remote_retrieve_response_code( $response ),
			'body'   => (string) wp_remote_retrieve_body( $response ),
			'error'  => '',
		);
	}
}
